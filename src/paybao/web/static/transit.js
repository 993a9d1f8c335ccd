/*
 * transit.js: the wallet's ride code (乘车码), made in the browser with no network.
 *
 * The phone's key is an ECDSA P-256 pair made by WebCrypto with a NON-extractable private half,
 * kept in IndexedDB (one per operator app id); only the public half leaves, when the user opens
 * the service. The page holds the certificate the platform signed for that key; every 60 s it
 * signs (certificate | issued at | counter | nonce) and draws the code as a QR (byte mode,
 * ECC M), the same 202-byte layout as src/paybao/domain/transit.py:
 *
 *   code = "PBT1" + base64url(certificate(126) | issued_at_s(4) | counter(4) | nonce(4) | r||s(64))
 *
 * No dependencies: window.PaybaoTransit.{keyFor, newKey, publicKeyBase64, codeText, qrMatrix, qrSvg}.
 */
(function (root) {
  "use strict";

  const DB_NAME = "paybao-transit";
  const STORE = "keys";
  const REFRESH_MS = 60000;
  const ALGORITHM = { name: "ECDSA", namedCurve: "P-256" };

  // --- keys in IndexedDB -------------------------------------------------------------------

  function openDb() {
    return new Promise((resolve, reject) => {
      const request = root.indexedDB.open(DB_NAME, 1);
      request.onupgradeneeded = () => request.result.createObjectStore(STORE);
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  }

  async function withStore(mode, work) {
    const db = await openDb();
    return new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const request = work(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(request.result);
      tx.onerror = () => reject(tx.error);
    });
  }

  function keyFor(appId) {
    return withStore("readonly", (store) => store.get(appId));
  }

  async function newKey(appId) {
    const pair = await root.crypto.subtle.generateKey(ALGORITHM, false, ["sign", "verify"]);
    await withStore("readwrite", (store) => store.put(pair, appId));
    return pair;
  }

  async function publicKeyBase64(pair) {
    const raw = new Uint8Array(await root.crypto.subtle.exportKey("raw", pair.publicKey));
    return bytesToBase64(raw);
  }

  // --- the code ----------------------------------------------------------------------------

  function bytesToBase64(bytes) {
    let binary = "";
    for (let i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
    return btoa(binary);
  }

  function base64ToBytes(text) {
    const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes;
  }

  async function codeText(pair, certificateBase64, unixTimeS, counter) {
    const cert = base64ToBytes(certificateBase64);
    if (cert.length !== 126) throw new Error("a certificate is 126 bytes");
    const body = new Uint8Array(138);
    body.set(cert, 0);
    const view = new DataView(body.buffer);
    view.setUint32(126, unixTimeS, false);
    view.setUint32(130, counter >>> 0, false);
    view.setUint32(134, root.crypto.getRandomValues(new Uint32Array(1))[0], false);
    const signature = new Uint8Array(
      await root.crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, pair.privateKey, body));
    const all = new Uint8Array(202);
    all.set(body, 0);
    all.set(signature, 138);
    return "PBT1" + bytesToBase64(all).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  // --- QR: byte mode, ECC level M, versions 1..20 (after Nayuki's reference encoder) --------

  const ECC_PER_BLOCK_M = [-1, 10, 16, 26, 18, 24, 16, 18, 22, 22, 26, 30, 22, 22, 24, 24, 28, 28, 26, 26, 26];
  const BLOCKS_M = [-1, 1, 1, 1, 2, 2, 4, 4, 4, 5, 5, 5, 8, 9, 9, 10, 10, 11, 13, 14, 16];
  const FORMAT_M = 0;

  function rawModules(ver) {
    let result = (16 * ver + 128) * ver + 64;
    if (ver >= 2) {
      const align = Math.floor(ver / 7) + 2;
      result -= (25 * align - 10) * align - 55;
      if (ver >= 7) result -= 36;
    }
    return result;
  }

  function dataCodewords(ver) {
    return Math.floor(rawModules(ver) / 8) - ECC_PER_BLOCK_M[ver] * BLOCKS_M[ver];
  }

  function gfMultiply(x, y) {
    let z = 0;
    for (let i = 7; i >= 0; i--) {
      z = (z << 1) ^ ((z >>> 7) * 0x11d);
      z ^= ((y >>> i) & 1) * x;
    }
    return z & 0xff;
  }

  function rsDivisor(degree) {
    const result = new Array(degree).fill(0);
    result[degree - 1] = 1;
    let rootValue = 1;
    for (let i = 0; i < degree; i++) {
      for (let j = 0; j < degree; j++) {
        result[j] = gfMultiply(result[j], rootValue);
        if (j + 1 < degree) result[j] ^= result[j + 1];
      }
      rootValue = gfMultiply(rootValue, 0x02);
    }
    return result;
  }

  function rsRemainder(data, divisor) {
    const result = divisor.map(() => 0);
    for (const b of data) {
      const factor = b ^ result.shift();
      result.push(0);
      divisor.forEach((coef, i) => { result[i] ^= gfMultiply(coef, factor); });
    }
    return result;
  }

  function encodeData(bytes) {
    let ver = 1;
    for (; ver <= 20; ver++) {
      const countBits = ver < 10 ? 8 : 16;
      if (4 + countBits + bytes.length * 8 <= dataCodewords(ver) * 8) break;
    }
    if (ver > 20) throw new Error("too long for a version 20 QR code");
    const bits = [];
    const push = (value, n) => { for (let i = n - 1; i >= 0; i--) bits.push((value >>> i) & 1); };
    push(4, 4);
    push(bytes.length, ver < 10 ? 8 : 16);
    for (const b of bytes) push(b, 8);
    const capacity = dataCodewords(ver) * 8;
    push(0, Math.min(4, capacity - bits.length));
    push(0, (8 - (bits.length % 8)) % 8);
    for (let pad = 0xec; bits.length < capacity; pad ^= 0xec ^ 0x11) push(pad, 8);
    const codewords = [];
    for (let i = 0; i < bits.length; i += 8) {
      let value = 0;
      for (let j = 0; j < 8; j++) value = (value << 1) | bits[i + j];
      codewords.push(value);
    }
    return { ver, codewords: interleave(ver, codewords) };
  }

  function interleave(ver, data) {
    const blocksN = BLOCKS_M[ver];
    const eccLen = ECC_PER_BLOCK_M[ver];
    const raw = Math.floor(rawModules(ver) / 8);
    const shortN = blocksN - (raw % blocksN);
    const shortLen = Math.floor(raw / blocksN);
    const divisor = rsDivisor(eccLen);
    const blocks = [];
    for (let i = 0, k = 0; i < blocksN; i++) {
      const dat = data.slice(k, k + shortLen - eccLen + (i < shortN ? 0 : 1));
      k += dat.length;
      const ecc = rsRemainder(dat, divisor);
      if (i < shortN) dat.push(0);
      blocks.push(dat.concat(ecc));
    }
    const result = [];
    for (let i = 0; i < blocks[0].length; i++) {
      blocks.forEach((block, j) => {
        if (i !== shortLen - eccLen || j >= shortN) result.push(block[i]);
      });
    }
    return result;
  }

  function qrMatrix(text) {
    const { ver, codewords } = encodeData(new TextEncoder().encode(text));
    const size = ver * 4 + 17;
    const modules = Array.from({ length: size }, () => new Array(size).fill(false));
    const fixed = Array.from({ length: size }, () => new Array(size).fill(false));
    const set = (x, y, dark) => { modules[y][x] = dark; fixed[y][x] = true; };
    for (let i = 0; i < size; i++) { set(6, i, i % 2 === 0); set(i, 6, i % 2 === 0); }
    for (const [cx, cy] of [[3, 3], [size - 4, 3], [3, size - 4]]) {
      for (let dy = -4; dy <= 4; dy++) {
        for (let dx = -4; dx <= 4; dx++) {
          const dist = Math.max(Math.abs(dx), Math.abs(dy));
          const x = cx + dx, y = cy + dy;
          if (x >= 0 && x < size && y >= 0 && y < size) set(x, y, dist !== 2 && dist !== 4);
        }
      }
    }
    const positions = alignmentPositions(ver, size);
    const last = positions.length - 1;
    positions.forEach((px, i) => positions.forEach((py, j) => {
      if ((i === 0 && j === 0) || (i === 0 && j === last) || (i === last && j === 0)) return;
      for (let dy = -2; dy <= 2; dy++) {
        for (let dx = -2; dx <= 2; dx++) set(px + dx, py + dy, Math.max(Math.abs(dx), Math.abs(dy)) !== 1);
      }
    }));
    drawFormat(set, size, 0);
    if (ver >= 7) drawVersion(set, size, ver);
    let i = 0;
    for (let right = size - 1; right >= 1; right -= 2) {
      if (right === 6) right = 5;
      for (let vert = 0; vert < size; vert++) {
        for (let j = 0; j < 2; j++) {
          const x = right - j;
          const upward = ((right + 1) & 2) === 0;
          const y = upward ? size - 1 - vert : vert;
          if (!fixed[y][x] && i < codewords.length * 8) {
            modules[y][x] = ((codewords[i >>> 3] >>> (7 - (i & 7))) & 1) === 1;
            i++;
          }
        }
      }
    }
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) if (!fixed[y][x] && (x + y) % 2 === 0) modules[y][x] = !modules[y][x];
    }
    return modules;
  }

  function alignmentPositions(ver, size) {
    if (ver === 1) return [];
    const count = Math.floor(ver / 7) + 2;
    const step = Math.ceil((ver * 4 + 4) / (count * 2 - 2)) * 2;
    const result = [6];
    for (let pos = size - 7; result.length < count; pos -= step) result.splice(1, 0, pos);
    return result;
  }

  function drawFormat(set, size, mask) {
    const data = (FORMAT_M << 3) | mask;
    let rem = data;
    for (let i = 0; i < 10; i++) rem = (rem << 1) ^ ((rem >>> 9) * 0x537);
    const bits = ((data << 10) | rem) ^ 0x5412;
    const bit = (i) => ((bits >>> i) & 1) === 1;
    for (let i = 0; i <= 5; i++) set(8, i, bit(i));
    set(8, 7, bit(6));
    set(8, 8, bit(7));
    set(7, 8, bit(8));
    for (let i = 9; i < 15; i++) set(14 - i, 8, bit(i));
    for (let i = 0; i < 8; i++) set(size - 1 - i, 8, bit(i));
    for (let i = 8; i < 15; i++) set(8, size - 15 + i, bit(i));
    set(8, size - 8, true);
  }

  function drawVersion(set, size, ver) {
    let rem = ver;
    for (let i = 0; i < 12; i++) rem = (rem << 1) ^ ((rem >>> 11) * 0x1f25);
    const bits = (ver << 12) | rem;
    for (let i = 0; i < 18; i++) {
      const dark = ((bits >>> i) & 1) === 1;
      const a = size - 11 + (i % 3), b = Math.floor(i / 3);
      set(a, b, dark);
      set(b, a, dark);
    }
  }

  function qrSvg(text, modulePx) {
    const matrix = qrMatrix(text);
    const quiet = 4;
    const n = matrix.length + quiet * 2;
    let path = "";
    matrix.forEach((row, y) => row.forEach((dark, x) => {
      if (dark) path += `M${x + quiet},${y + quiet}h1v1h-1z`;
    }));
    const px = n * (modulePx || 4);
    return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${n} ${n}" width="${px}" height="${px}"` +
      ` shape-rendering="crispEdges"><rect width="${n}" height="${n}" fill="#fff"/>` +
      `<path d="${path}" fill="#000"/></svg>`;
  }

  // --- the page ----------------------------------------------------------------------------

  async function showCode(box) {
    const pair = await keyFor(box.dataset.app);
    if (!pair) {
      box.hidden = true;
      const missing = document.getElementById("transit-no-key");
      if (missing) missing.hidden = false;
      return;
    }
    let counter = Number(root.localStorage.getItem("transit-counter-" + box.dataset.app) || "0");
    const draw = async () => {
      counter = (counter + 1) >>> 0;
      root.localStorage.setItem("transit-counter-" + box.dataset.app, String(counter));
      const text = await codeText(pair, box.dataset.cert, Math.floor(Date.now() / 1000), counter);
      box.querySelector(".qr").innerHTML = qrSvg(text, 4);
      box.dataset.code = text;
      box.querySelector(".stamp").textContent = new Date().toLocaleTimeString();
    };
    await draw();
    root.setInterval(draw, REFRESH_MS);
  }

  async function prepareOpen(form) {
    form.addEventListener("submit", async (event) => {
      if (form.dataset.ready === "1") return;
      event.preventDefault();
      const pair = await newKey(form.dataset.app);
      form.querySelector("input[name=public_key]").value = await publicKeyBase64(pair);
      form.dataset.ready = "1";
      form.submit();
    });
  }

  root.PaybaoTransit = { keyFor, newKey, publicKeyBase64, codeText, qrMatrix, qrSvg };
  if (typeof document !== "undefined") {
    document.addEventListener("DOMContentLoaded", () => {
      document.querySelectorAll("form.transit-key").forEach(prepareOpen);
      document.querySelectorAll(".ride-code").forEach((box) => showCode(box));
    });
  }
})(typeof window !== "undefined" ? window : globalThis);
