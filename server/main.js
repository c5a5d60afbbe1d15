// Entry point for pm2 (which would look for ts-node on a .ts script): node --import tsx server/main.js.
import './src/main.ts';
