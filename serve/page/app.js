// The page of `matgrad serve`: two editors, dims and seed; on every change (debounced) it asks
// /api/verify (or /api/explain without a derivation) for the report's HTML fragment, shows it
// typeset (KaTeX from the server) and linked (report.js, the HTML report's own script), and marks
// an error's line and column in its editor. The state lives in the URL fragment:
// #model=...&hand=...&seed=1&dims=d=10,h=64,n=7 -- opening such a link evaluates at once.
(function () {
  'use strict';
  var $ = function (id) { return document.getElementById(id); };
  var fields = { model: $('model'), hand: $('hand'), seed: $('seed'), dims: $('dims') };
  var reportScript = null, timer = null, sequence = 0;

  // Example dims: explain needs every dimension bound (a derivation's are drawn when left out).
  var exampleDims = { slides: '', gaussian_nll: 'd=3,n=8', l2_logistic: 'd=4,n=9',
                      softmax_regression: 'd=4,k=3,n=9', tanh_mse: 'd=2,h=16,n=20' };

  function gutter(editor) {
    var area = editor.querySelector('textarea'), lines = area.value.split('\n').length, text = '';
    for (var i = 1; i <= lines; ++i) text += '<span data-line="' + i + '">' + i + '</span>\n';
    editor.querySelector('.gutter').innerHTML = text;
  }
  function sync(editor) {
    var area = editor.querySelector('textarea');
    editor.querySelector('.gutter').scrollTop = area.scrollTop;
    var marker = editor.querySelector('.marker');
    if (!marker.hidden) place(editor);
  }
  // The width of a line's first characters as the textarea draws them: tabs to the next multiple of
  // 8 (the textarea's tab-size), and a character in its font's (or a fallback font's) own width.
  var ruler = document.createElement('canvas').getContext('2d');
  function textWidth(area, prefix) {
    var expanded = '';
    Array.from(prefix).forEach(function (c) { expanded += c === '\t' ? ' '.repeat(8 - expanded.length % 8) : c; });
    ruler.font = getComputedStyle(area).font;
    return ruler.measureText(expanded).width;
  }
  // The marker under LINE:COLUMN (a 1-based byte column, as matgrad reports it: counted in UTF-8).
  function place(editor) {
    var marker = editor.querySelector('.marker'), area = editor.querySelector('textarea');
    var line = +marker.dataset.line, column = +marker.dataset.column;
    var text = area.value.split('\n')[line - 1] || '', bytes = 0, chars = 0;
    while (chars < text.length && bytes < column - 1) {
      var code = text.codePointAt(chars);
      bytes += code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
      chars += code >= 0x10000 ? 2 : 1;
    }
    marker.style.top = (4 + (line - 1) * 18 - area.scrollTop) + 'px';
    marker.style.left = (4 + textWidth(area, text.slice(0, chars)) - area.scrollLeft) + 'px';
  }
  function clearMarks() {
    ['model-editor', 'hand-editor'].forEach(function (id) {
      var e = $(id);
      e.querySelector('.marker').hidden = true;
      e.querySelectorAll('.gutter .err').forEach(function (s) { s.classList.remove('err'); });
    });
    $('error').hidden = true;
  }
  function showError(error) {
    var where = error.file === 'hand.mg' ? 'hand-editor' : error.file === 'model.mg' ? 'model-editor' : null;
    var box = $('error');
    box.hidden = false;
    box.textContent = (error.file ? error.file + (error.line ? ':' + error.line + ':' + error.column : '') + ': ' : '') +
                      'error: ' + error.message;
    if (!where || !error.line) return;
    var editor = $(where), marker = editor.querySelector('.marker');
    marker.dataset.line = error.line;
    marker.dataset.column = error.column;
    marker.hidden = false;
    place(editor);
    var number = editor.querySelector('.gutter [data-line="' + error.line + '"]');
    if (number) number.classList.add('err');
  }

  function dimsObject(text) {
    var dims = {};
    text.split(',').forEach(function (part) {
      var m = /^\s*([^=\s]+)\s*=\s*(\d+)\s*$/.exec(part);
      if (m) dims[m[1]] = +m[2];
    });
    return dims;
  }
  function state() {
    return { model: fields.model.value, hand: fields.hand.value, seed: fields.seed.value.trim() || '1',
             dims: fields.dims.value.trim() };
  }
  function saveHash(s) {
    var hash = '#model=' + encodeURIComponent(s.model) + '&hand=' + encodeURIComponent(s.hand) +
               '&seed=' + encodeURIComponent(s.seed) + '&dims=' + encodeURIComponent(s.dims);
    if (location.hash !== hash) history.replaceState(null, '', hash);
  }
  function loadHash() {
    if (!/^#model=/.test(location.hash)) return false;
    location.hash.slice(1).split('&').forEach(function (pair) {
      var eq = pair.indexOf('='), key = pair.slice(0, eq), value = decodeURIComponent(pair.slice(eq + 1));
      if (fields[key]) fields[key].value = value;
    });
    return true;
  }

  function evaluate() {
    var s = state(), id = ++sequence;
    saveHash(s);
    gutter($('model-editor'));
    gutter($('hand-editor'));
    if (!s.model.trim()) { clearMarks(); $('report').innerHTML = ''; return; }
    var seed = Number(s.seed);
    var body = { model: s.model, seed: Number.isInteger(seed) && seed >= 0 ? seed : s.seed,
                 dims: dimsObject(s.dims), format: 'html-fragment' };
    var endpoint = s.hand.trim() ? 'verify' : 'explain';
    if (endpoint === 'verify') body.hand = s.hand;
    $('status').textContent = 'evaluating…';
    fetch('/api/' + endpoint, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) })
      .then(function (r) { return r.json(); })
      .then(function (answer) {
        if (id !== sequence) return;  // a later edit's answer is coming
        clearMarks();
        document.body.dataset.evaluated = String(id);
        if (answer.error) { showError(answer.error); $('status').textContent = 'error'; return; }
        $('report').innerHTML = answer.document;
        var verdicts = $('report').querySelector('table.verdicts');
        if (verdicts) foldHints(verdicts);
        if (reportScript) reportScript();
        $('status').textContent = endpoint === 'verify' ? 'checked' : 'explained';
      })
      .catch(function (e) { if (id === sequence) $('status').textContent = 'no answer: ' + e; });
  }
  // A verdict's hint is its longest text: under its gradient's row, across the table, so the table
  // fits beside the editors without sideways scrolling.
  function foldHints(table) {
    var head = table.querySelector('tr');
    var shown = Array.from(head.children).filter(function (th) { return getComputedStyle(th).display !== 'none'; });
    head.lastElementChild.remove();
    table.querySelectorAll('tr[data-gradient]').forEach(function (row) {
      var hint = row.lastElementChild;
      hint.remove();
      if (!hint.textContent) return;
      var under = document.createElement('tr');
      under.className = 'hint ' + row.className;
      hint.colSpan = shown.length - 1;
      under.appendChild(hint);
      row.after(under);
    });
  }
  function later() { clearTimeout(timer); timer = setTimeout(evaluate, 300); }

  ['model', 'hand', 'seed', 'dims'].forEach(function (k) { fields[k].addEventListener('input', later); });
  ['model-editor', 'hand-editor'].forEach(function (id) {
    $(id).querySelector('textarea').addEventListener('scroll', function () { sync($(id)); });
  });
  window.addEventListener('hashchange', function () { if (loadHash()) evaluate(); });

  var examples = {};
  fetch('/api/examples').then(function (r) { return r.json(); }).then(function (all) {
    examples = all;
    Object.keys(all.models).forEach(function (name) {
      var option = document.createElement('option');
      option.value = option.textContent = name;
      $('examples').appendChild(option);
    });
  });
  $('examples').addEventListener('change', function () {
    var name = this.value;
    if (!name) return;
    fields.model.value = examples.models[name];
    fields.hand.value = examples.derivations[name] || '';
    fields.dims.value = exampleDims[name] || '';
    evaluate();
  });

  // The HTML report's script (typesets [data-tex], links equations and graph nodes), run after each answer.
  fetch('/report.js').then(function (r) { return r.text(); }).then(function (text) {
    reportScript = new Function(text);
    if (loadHash()) evaluate();
    else { gutter($('model-editor')); gutter($('hand-editor')); }
  });
})();
