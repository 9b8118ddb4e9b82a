// Used by tests/diff_html.rs under Node: node diff-dom-shim.js DATA.json CODE.js
// A minimal DOM, enough for the diff page's script to run: it fills the tables, then the shim clicks the Fixed
// tab and opens the first fixed row, and prints what it saw as JSON.
function Node_(tag) {
  this.tagName = tag; this.children = []; this.className = ""; this.attrs = {}; this.hidden = false;
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
var ids = {};
global.Node = Node_;
global.document = {
  getElementById: function (id) {
    if (!ids[id]) ids[id] = new Node_("div");
    if (id === "ksx-data") ids[id]._text = require("fs").readFileSync(process.argv[2], "utf8");
    return ids[id];
  },
  createElement: function (t) { return new Node_(t); },
  createTextNode: function (t) { var n = new Node_("#text"); n._text = String(t); return n; }
};
require(process.argv[3]);
var keys = ["new", "fixed", "unchanged", "suppressed"];
function state() {
  var s = {};
  ["new", "fixed", "unchanged"].forEach(function (k) {
    s[k] = { hidden: ids["panel-" + k].hidden, selected: ids["tab-" + k].getAttribute("aria-selected") };
  });
  return s;
}
var out = { rows: {}, counts: {}, initial: state() };
keys.forEach(function (k) {
  out.rows[k] = ids[k + "-body"].children.map(function (tr) {
    return { className: tr.className, cells: tr.cells.map(function (td) { return td.textContent; }) };
  });
  out.counts[k] = ids[k + "-count"].textContent;
});
ids["tab-fixed"].listeners.click();
out.afterFixed = state();
var fixed = ids["fixed-body"];
fixed.children[0].listeners.click();
out.detail = { className: fixed.children[1].className, text: fixed.children[1].textContent };
console.log(JSON.stringify(out));
