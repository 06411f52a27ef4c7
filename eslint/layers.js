// ESLint rule: imports flow one way, cli → online | batch → ledger, and only src/ledger/sqlite/
// may import better-sqlite3. Paths are resolved against the importing file, so `../online/x.js`
// from src/ledger/ is caught however it is spelled.

import path from 'node:path';

const LAYER_RANK = { ledger: 0, online: 1, batch: 1, cli: 2 };

/** The layer of a file under src/, or undefined outside src/. */
function layerOf(file) {
  const parts = path.normalize(file).split(path.sep);
  const at = parts.lastIndexOf('src');
  if (at < 0) return undefined;
  const layer = parts[at + 1];
  return layer in LAYER_RANK ? { layer, sub: parts[at + 2] } : undefined;
}

function allowed(from, to) {
  if (from.layer === to.layer) return true;
  if (from.layer === 'online' && to.layer === 'batch') return false;
  if (from.layer === 'batch' && to.layer === 'online') return false;
  return LAYER_RANK[from.layer] > LAYER_RANK[to.layer];
}

export const layersRule = {
  meta: {
    type: 'problem',
    docs: { description: 'enforce cli → online | batch → ledger, and better-sqlite3 only in src/ledger/sqlite/' },
    messages: {
      layer: '{{from}} must not import {{to}}: imports flow cli → online | batch → ledger.',
      sqlite: 'Only src/ledger/sqlite/ may import better-sqlite3; go through the store port.',
    },
    schema: [],
  },
  create(context) {
    const filename = context.filename ?? context.getFilename();
    const from = layerOf(filename);
    function check(node, source) {
      if (typeof source !== 'string') return;
      if (source === 'better-sqlite3' || source.startsWith('better-sqlite3/')) {
        if (!(from && from.layer === 'ledger' && from.sub === 'sqlite')) context.report({ node, messageId: 'sqlite' });
        return;
      }
      if (!from || !source.startsWith('.')) return;
      const to = layerOf(path.resolve(path.dirname(filename), source));
      if (to && !allowed(from, to)) context.report({ node, messageId: 'layer', data: { from: from.layer, to: to.layer } });
    }
    return {
      ImportDeclaration: (node) => check(node, node.source.value),
      ExportNamedDeclaration: (node) => node.source && check(node, node.source.value),
      ExportAllDeclaration: (node) => check(node, node.source.value),
      ImportExpression: (node) => node.source.type === 'Literal' && check(node, node.source.value),
    };
  },
};

export default { rules: { layers: layersRule } };
