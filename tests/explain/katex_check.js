// Typesets every $$...$$ block of a LaTeX file with KaTeX (Debian's libjs-katex) in strict mode:
// exit 1 and the KaTeX error on the first block that does not compile.
// Usage: node katex_check.js KATEX_DIR FILE
const fs = require('fs');
const katex = require(process.argv[2] + '/katex.js');
const text = fs.readFileSync(process.argv[3], 'utf8');
const blocks = [...text.matchAll(/\$\$([\s\S]*?)\$\$/g)].map(m => m[1]);
if (blocks.length === 0) { console.error('no $$...$$ block in ' + process.argv[3]); process.exit(1); }
for (const tex of blocks) {
  try {
    katex.renderToString(tex, {displayMode: true, throwOnError: true, strict: 'error'});
  } catch (e) {
    console.error(e.message + '\nin:\n' + tex);
    process.exit(1);
  }
}
console.log(blocks.length + ' LaTeX blocks compile in KaTeX ' + katex.version);
