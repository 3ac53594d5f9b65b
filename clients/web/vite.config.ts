import { defineConfig } from "vite";

// The aiohttp server serves dist/ itself; the dev server proxies the API and Socket.IO to it.
export default defineConfig({
  build: { outDir: "dist", emptyOutDir: true, sourcemap: true, target: "es2022" },
  server: {
    proxy: {
      "/api": "http://127.0.0.1:8080",
      "/socket.io": { target: "ws://127.0.0.1:8080", ws: true },
    },
  },
});
