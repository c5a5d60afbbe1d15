// PURE: a unit's flat file list (as GET …/tree answers) as a tree: folders first, then files, each by name.
export interface TreeNode {
  name: string;
  /** Path from the unit's root ("etc/nginx"), the key of a folder's open state and of a file's view. */
  path: string;
  /** Folders only. */
  children?: TreeNode[];
}

export function buildTree(files: string[]): TreeNode[] {
  const root: TreeNode = { name: '', path: '', children: [] };
  for (const f of files) {
    let node = root;
    const parts = f.split('/');
    parts.forEach((name, i) => {
      const path = parts.slice(0, i + 1).join('/');
      const leaf = i === parts.length - 1;
      let next = node.children!.find((c) => c.name === name && !c.children === leaf);
      if (!next) node.children!.push((next = leaf ? { name, path } : { name, path, children: [] }));
      node = next;
    });
  }
  const sort = (n: TreeNode[]): TreeNode[] => n
    .sort((a, b) => Number(!a.children) - Number(!b.children) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((c) => (c.children ? { ...c, children: sort(c.children) } : c));
  return sort(root.children!);
}

/** The folders leading to a path ("a/b/c.conf" → ["a", "a/b"]): opened so a selected file is visible. */
export function ancestors(path: string): string[] {
  const parts = path.split('/');
  return parts.slice(0, -1).map((_, i) => parts.slice(0, i + 1).join('/'));
}

/** Folders a list of files opens with: every folder when the unit is small, else only the top level's. */
export function initiallyOpen(files: string[], small = 30): Set<string> {
  const all = new Set(files.flatMap(ancestors));
  return files.length <= small ? all : new Set();
}
