// What a benchmark is, apart from the runner (index.ts) so that scenarios and runner do not import each other.
export type Print = (line: string) => void;
export interface Bench { name: string; description: string; run(print: Print): Promise<void> }
