// Used by tests/reports_junit_html.rs (html_script_runs_and_renders_rows) under Node: node shim.js DATA.json CODE.js
// A minimal DOM: enough for the report script to run under Node and render its rows.
function Node_(tag) {
  this.tagName = tag; this.children = []; this.className = ""; this.value = "*"; this.attrs = {};
  this.listeners = {}; this._text = ""; this.parentNode = null; this.cells = [];
}
Object.defineProperty(Node_.prototype, "textContent", {
  get: function () { return this._text + this.children.map(function (c) { return c.textContent; }).join(""); },
  set: function (v) { this._text = String(v); this.children = []; }
});
Object.defineProperty(Node_.prototype, "nextSibling", {
  get: function () { var p = this.parentNode; if (!p) return null; var i = p.children.indexOf(this); return p.children[i + 1] || null; }
});
Node_.prototype.appendChild = function (c) {
  if (c.tagName === "#fragment") { var self = this; c.children.slice().forEach(function (x) { self.appendChild(x); }); c.children = []; return c; }
  if (c.parentNode) c.parentNode.removeChild(c);
  c.parentNode = this; this.children.push(c); if (c.tagName === "td") this.cells.push(c); return c;
};
Node_.prototype.insertBefore = function (c, ref) {
  if (!ref) return this.appendChild(c);
  c.parentNode = this; this.children.splice(this.children.indexOf(ref), 0, c); return c;
};
Node_.prototype.removeChild = function (c) { this.children.splice(this.children.indexOf(c), 1); c.parentNode = null; return c; };
Node_.prototype.addEventListener = function (name, f) { this.listeners[name] = f; };
Node_.prototype.setAttribute = function (k, v) { this.attrs[k] = String(v); };
Node_.prototype.getAttribute = function (k) { return this.attrs[k]; };
Node_.prototype.removeAttribute = function (k) { delete this.attrs[k]; };
var ids = {};
global.Node = Node_;
global.document = {
  getElementById: function (id) {
    if (!ids[id]) { ids[id] = new Node_("div"); if (id === "f-q") ids[id].value = ""; }
    if (id === "ksx-data") ids[id]._text = require("fs").readFileSync(process.argv[2], "utf8");
    return ids[id];
  },
  createElement: function (t) { return new Node_(t); },
  createDocumentFragment: function () { return new Node_("#fragment"); },
  createTextNode: function (t) { var n = new Node_("#text"); n._text = String(t); return n; },
  querySelectorAll: function () { return []; }
};
require(process.argv[3]);
var body = ids["findings-body"], ex = ids["exempted-body"];
// Click the first row open: the detail row must appear with the remediation.
body.children[0].listeners.click();
var out = { rows: body.children.length, exempted: ex.children.length, count: ids["findings-count"].textContent,
  detail: body.children[1].className, detailText: body.children[1].textContent };
ids["f-sev"].value = "danger"; ids["f-sev"].listeners.change();
out.dangerRows = body.children.length; out.dangerCount = ids["findings-count"].textContent;
console.log(JSON.stringify(out));
