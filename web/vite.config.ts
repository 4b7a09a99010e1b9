import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

/**
 * The web UI talks to the API only through src/client (browser-safe: fetch,
 * AbortSignal, TextDecoder). `npm run dev -w web` proxies /api to a running
 * front-end (ONEEDGE_URL, default http://127.0.0.1:2633).
 */
const backend = process.env.ONEEDGE_URL ?? 'http://127.0.0.1:2633';

export default defineConfig({
  base: '/',
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 2000,
  },
  server: {
    proxy: { '/api': { target: backend, changeOrigin: false } },
  },
});
