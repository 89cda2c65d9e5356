"""The report page's filters in the URL fragment (`#bench=gsm8k&verdict=incorrect`): one helper for every section."""

from __future__ import annotations

__all__ = ["URL_HASH_JS"]

# Top-level functions of the page's script; each section passes its own filter elements, keyed by hash name.
URL_HASH_JS = r"""
function npReadHash(fields){  // set each field the hash names (a select only to one of its options); the params
  const params = new URLSearchParams(location.hash.replace(/^#/, ''));
  for (const k of Object.keys(fields)){
    const v = params.get(k);
    if (v === null) continue;
    if (fields[k].tagName === 'SELECT' && ![...fields[k].options].some(o => o.value === v)) continue;
    fields[k].value = v;
  }
  return params;
}
function npWriteHash(fields, extra){  // the fields' values and `extra` (null: drop) into the hash; other keys stay
  const params = new URLSearchParams(location.hash.replace(/^#/, ''));
  for (const k of Object.keys(fields)){ if (fields[k].value) params.set(k, fields[k].value); else params.delete(k); }
  for (const [k, v] of Object.entries(extra || {})){ if (v) params.set(k, v); else params.delete(k); }
  const h = params.toString();
  if (location.hash.replace(/^#/, '') !== h) history.replaceState(null, '', h ? '#' + h : location.pathname);
}
"""
