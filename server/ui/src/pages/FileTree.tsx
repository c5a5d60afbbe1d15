// The unit page's file tree: folders open and close (small units start fully open), a file opens in the viewer.
import { useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Raw } from '../components.js';
import { buildTree, initiallyOpen, type TreeNode } from '../lib/tree.js';

export function FileTree({ files, selected, onSelect }: { files: string[]; selected: string | null; onSelect: (path: string) => void }) {
  const { t } = useTranslation();
  const tree = useMemo(() => buildTree(files), [files]);
  const [open, setOpen] = useState(() => initiallyOpen(files));
  const toggle = (p: string) => setOpen((o) => { const n = new Set(o); if (n.has(p)) n.delete(p); else n.add(p); return n; });
  const shown = open;
  const render = (nodes: TreeNode[]) => nodes.map((n) => n.children ? (
    <li key={n.path} data-dir={n.path}>
      <button className="link dir" aria-expanded={shown.has(n.path)} onClick={() => toggle(n.path)} title={shown.has(n.path) ? t('unit.collapse') : t('unit.expand')}>
        <span aria-hidden="true">{shown.has(n.path) ? '▾' : '▸'}</span> <Raw>{n.name}/</Raw>
      </button>
      {shown.has(n.path) && <ul>{render(n.children)}</ul>}
    </li>
  ) : (
    <li key={n.path} data-file={n.path}>
      <button className={`link${n.path === selected ? ' on' : ''}`} onClick={() => onSelect(n.path)}><Raw>{n.name}</Raw></button>
    </li>
  ));
  return <ul className="tree" data-testid="files">{render(tree)}</ul>;
}
