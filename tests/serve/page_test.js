// The page of `matgrad serve` in headless Chromium, driven over the DevTools protocol on
// --remote-debugging-pipe (NUL-terminated JSON on fds 3 and 4): no npm package, no network.
// Types into the editors and checks the error's marker at its line and column, the verdicts with
// the typeset formulas and the first wrong step, the graph, a link with the state in its fragment,
// and that the page asks nothing of any other host. Writes a screenshot to the path given.
//
//     node page_test.js MATGRAD CHROMIUM SCREENSHOT.png
'use strict';
const { spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const [matgrad, chromium, screenshot] = process.argv.slice(2);
const examples = path.join(__dirname, '..', '..', 'examples');
const read = (kind, name) => fs.readFileSync(path.join(examples, kind, name + '.mg'), 'utf8');

let server, browser, profile;
function fail(message) {
  console.error('FAIL: ' + message);
  cleanup();
  process.exit(1);
}
function cleanup() {
  if (browser && browser.exitCode === null) browser.kill('SIGKILL');
  if (server && server.exitCode === null) server.kill('SIGKILL');
  if (!profile) return;
  try {  // Chromium may still be writing its profile as it dies
    fs.rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  } catch (e) {
    console.error('note: could not remove ' + profile + ': ' + e.message);
  }
  profile = null;
}
setTimeout(() => fail('took more than 150 s'), 150000).unref();

function startServer() {
  return new Promise((resolve) => {
    server = spawn(matgrad, ['serve', '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    server.stdout.on('data', (d) => {
      out += d;
      const m = /matgrad serve: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
      if (m) resolve(m[1]);
    });
    server.on('exit', (code) => { if (!out.includes('http')) fail('matgrad serve exited with ' + code); });
  });
}

function startBrowser() {
  profile = fs.mkdtempSync(path.join(os.tmpdir(), 'matgrad-serve-chromium-'));
  browser = spawn(chromium, ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage',
    '--user-data-dir=' + profile, '--remote-debugging-pipe', '--window-size=1600,1000', 'about:blank'],
    { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] });
  browser.stderr.on('data', () => {});  // Chromium's own chatter
  const toBrowser = browser.stdio[3], fromBrowser = browser.stdio[4];
  let id = 0, buffer = '';
  const pending = new Map(), listeners = [];
  fromBrowser.on('data', (chunk) => {
    buffer += chunk.toString('utf8');
    let end;
    while ((end = buffer.indexOf('\0')) >= 0) {
      const message = JSON.parse(buffer.slice(0, end));
      buffer = buffer.slice(end + 1);
      if (message.id && pending.has(message.id)) {
        const { resolve, reject, method } = pending.get(message.id);
        pending.delete(message.id);
        if (message.error) reject(new Error(method + ': ' + JSON.stringify(message.error)));
        else resolve(message.result);
      } else if (message.method) {
        listeners.forEach((l) => l(message));
      }
    }
  });
  const send = (method, params = {}, sessionId) => new Promise((resolve, reject) => {
    const message = { id: ++id, method, params };
    if (sessionId) message.sessionId = sessionId;
    pending.set(id, { resolve, reject, method });
    toBrowser.write(JSON.stringify(message) + '\0');
  });
  return { send, listeners };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

(async () => {
  const base = await startServer();
  const { send, listeners } = startBrowser();
  const { targetId } = await send('Target.createTarget', { url: 'about:blank' });
  const { sessionId } = await send('Target.attachToTarget', { targetId, flatten: true });
  const page = (method, params) => send(method, params, sessionId);
  const requested = [];
  let loaded = 0;
  listeners.push((m) => {
    if (m.sessionId !== sessionId) return;
    if (m.method === 'Network.requestWillBeSent') requested.push(m.params.request.url);
    if (m.method === 'Page.loadEventFired') ++loaded;
  });
  await page('Network.enable');
  await page('Page.enable');
  await page('Emulation.setDeviceMetricsOverride', { width: 1600, height: 1000, deviceScaleFactor: 1, mobile: false });

  const evaluate = async (expression) => {
    const r = await page('Runtime.evaluate', { expression, returnByValue: true, awaitPromise: true });
    if (r.exceptionDetails) fail('in the page: ' + expression + ': ' + JSON.stringify(r.exceptionDetails));
    return r.result.value;
  };
  const waitFor = async (expression, what, ms = 20000) => {
    for (const start = Date.now(); Date.now() - start < ms; await sleep(100))
      if (await evaluate(expression)) return;
    fail('waited ' + ms / 1000 + ' s for ' + what + ' (' + expression + ')');
  };
  const check = async (expression, what) => { if (!(await evaluate(expression))) fail(what + ' (' + expression + ')'); };
  const open = async (url) => {
    const before = loaded;
    await page('Page.navigate', { url });
    for (let i = 0; i < 200 && loaded === before; ++i) await sleep(50);
  };
  // Typing: focus an editor, select all (to replace) and insert the text as the keyboard would.
  const type = async (id, text) => {
    await evaluate(`(function(){ var e = document.getElementById('${id}'); e.focus(); e.select(); })()`);
    await page('Input.insertText', { text });
  };

  await open(base);
  await waitFor(`typeof katex !== 'undefined' && document.getElementById('examples').options.length === 6`,
                'KaTeX and the examples menu');

  // 1. A mistake in the model: marked at its line and column (3:10, the '*' of X*W1).
  const evaluated = () => evaluate(`document.body.dataset.evaluated || ''`);
  let before = await evaluated();
  await type('model', 'input X : 10 x 7\nparam W1 : 64 x 10\nJ = sum(X*W1)\n');
  await waitFor(`(document.body.dataset.evaluated || '') !== '${before}'`, 'the answer to the typed model');
  await check(`!document.querySelector('#model-editor .marker').hidden`, 'the error marker is shown');
  await check(`document.getElementById('error').textContent.startsWith('model.mg:3:10: error: X*W1')`,
              'the error names model.mg:3:10');
  await check(`document.querySelector('#model-editor .gutter [data-line="3"]').classList.contains('err') &&
               document.querySelectorAll('#model-editor .gutter .err').length === 1`, 'line 3 is marked in the gutter');
  // The marker sits on line 3 (18 px lines, 4 px padding) and over the 10th character.
  const place = await evaluate(`(function(){
    var m = document.querySelector('#model-editor .marker').getBoundingClientRect();
    var a = document.getElementById('model').getBoundingClientRect();
    var probe = document.createElement('span'); probe.style.font = '13px monospace'; probe.textContent = 'X';
    document.body.appendChild(probe); var ch = probe.getBoundingClientRect().width; probe.remove();
    return { top: m.top - a.top, left: m.left - a.left, ch: ch };
  })()`);
  if (Math.abs(place.top - (4 + 2 * 18)) > 1) fail('marker at y ' + place.top + ', not on line 3');
  if (Math.abs(place.left - (4 + 9 * place.ch)) > 1) fail('marker at x ' + place.left + ', not at column 10');
  // After a tab, the marker is where the textarea draws the '*': "J =" then the tab to column 8, then "sum(X".
  before = await evaluated();
  await type('model', 'input X : 10 x 7\nparam W1 : 64 x 10\nJ =\tsum(X*W1)\n');
  await waitFor(`(document.body.dataset.evaluated || '') !== '${before}'`, 'the answer to the model with a tab');
  await check(`document.getElementById('error').textContent.startsWith('model.mg:3:10: error: X*W1')`,
              'the error after a tab names model.mg:3:10');
  const afterTab = await evaluate(`document.querySelector('#model-editor .marker').getBoundingClientRect().left -
                                   document.getElementById('model').getBoundingClientRect().left`);
  if (Math.abs(afterTab - (4 + 13 * place.ch)) > 1) fail('marker after a tab at x ' + afterTab + ', not under the 14th cell');

  // 2. The slides' model and derivation, typed: verdicts, typeset formulas, first wrong step, graph.
  before = await evaluated();
  await type('model', read('models', 'slides'));
  await type('hand', read('derivations', 'slides'));
  await waitFor(`!!document.querySelector('#report table.verdicts')`, 'the verdicts table');
  await check(`document.querySelector('#model-editor .marker').hidden && document.getElementById('error').hidden`,
              'the fixed model has no error marker');
  await check(`document.querySelectorAll('#report table.verdicts tr[data-gradient]').length === 8`, '8 gradient rows');
  await check(`document.querySelector('#report tr[data-gradient="dA2"]').classList.contains('wrong') &&
               !!document.querySelector('#report tr[data-gradient="dA2"] .first') &&
               document.querySelectorAll('#report table.verdicts .first').length === 1`,
              'dA2 is the one first wrong step');
  await check(`document.querySelector('#report tr[data-gradient="dA2"] td.line').textContent === '4'`, 'dA2 is line 4');
  await check(`Array.from(document.querySelectorAll('#report table.verdicts td.yours, #report table.verdicts td.right'))
                 .every(function(td){ return td.querySelector('.katex') && !td.querySelector('.katex-error'); })`,
              'every formula (yours and the right one) typeset by KaTeX');
  await check(`(function(){ var under = document.querySelector('#report tr[data-gradient="dA2"]').nextElementSibling;
                 return under.classList.contains('hint') && under.textContent.startsWith('dA2 should be '); })()`,
              "dA2's hint in the row under it");
  await check(`(function(){ var report = document.getElementById('report');
                 return document.querySelector('#report table.verdicts').getBoundingClientRect().right <=
                          report.getBoundingClientRect().right + 1 && report.scrollWidth <= report.clientWidth; })()`,
              'the verdicts table fits beside the editors, without sideways scrolling');
  await check(`document.querySelectorAll('#report .eq .katex').length >= 10`, 'the equations typeset');
  await check(`document.querySelectorAll('#report .graph svg g.node').length >= 10`, 'the graph drawn');
  // Equations and graph nodes are linked: hovering an equation highlights its node.
  await check(`(function(){ var e = document.querySelector('#report .eq[data-node]');
                 e.dispatchEvent(new MouseEvent('mouseenter'));
                 return !!document.querySelector('#report .graph g.node.hl'); })()`, 'an equation highlights its node');
  await check(`decodeURIComponent(location.hash).startsWith('#model=# the slides') && location.hash.includes('&hand=')`,
              'the state is in the URL fragment');
  const shot = await page('Page.captureScreenshot', { format: 'png' });
  fs.writeFileSync(screenshot, Buffer.from(shot.data, 'base64'));

  // 3. A link with the state in its fragment, opened fresh: evaluated at once.
  const link = base + '#model=' + encodeURIComponent(read('models', 'tanh_mse')) + '&hand=' +
               encodeURIComponent('dJ = 1\n') + '&seed=3&dims=' + encodeURIComponent('d=2,h=16,n=20');
  await open('about:blank');
  await open(link);
  await waitFor(`!!document.querySelector('#report table.verdicts') || !document.getElementById('error').hidden`,
                'the linked state evaluated');
  await check(`document.getElementById('dims').value === 'd=2,h=16,n=20' && document.getElementById('seed').value === '3'`,
              'the fields come from the link');
  await check(`document.getElementById('model').value.startsWith('# ') && document.getElementById('hand').value === 'dJ = 1\\n'`,
              'the editors come from the link');
  await check(`document.querySelector('#report h1').textContent.includes('model.mg: output J, on values drawn with seed 3')`,
              'the report is of the linked model and seed');

  // 4. Every request went to the server itself.
  const elsewhere = requested.filter((u) => !u.startsWith(base) && u !== 'about:blank' && !u.startsWith('data:'));
  if (elsewhere.length) fail('requests to other hosts: ' + elsewhere.join(', '));
  if (!requested.some((u) => u.startsWith(base + 'katex/fonts/'))) fail('no KaTeX font was loaded from the server');

  await send('Browser.close').catch(() => {});
  server.kill('SIGINT');
  const code = await new Promise((r) => server.on('exit', r));
  if (code !== 0) fail('matgrad serve exited with ' + code + ' after SIGINT');
  cleanup();
  console.log('ok: typing, the error marker, the verdicts, a link; ' + requested.length + ' requests, all to ' + base);
})().catch((e) => fail(e.stack || String(e)));
