export function treeRssKiB(rootPid: number, extra?: string): number;
