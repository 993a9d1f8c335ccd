/*
 * transit.js: the wallet's ride code (乘车码), made in the browser with no network.
 *
 * The phone's key is an ECDSA P-256 pair made by WebCrypto with a NON-extractable private half,
 * kept in IndexedDB (one per operator app id); only the public half leaves, when the user opens
 * the service. The page holds the certificate the platform signed for that key; every 60 s it
 * signs (certificate | issued at | counter | nonce) and draws the code as a QR (byte mode,
 * ECC M, by qr.js: the wallet's one QR encoder, which the page loads first), the same 202-byte
 * layout as src/paybao/domain/transit.py:
 *
 *   code = "PBT1" + base64url(certificate(126) | issued_at_s(4) | counter(4) | nonce(4) | r||s(64))
 *
 * No modules: window.PaybaoTransit.{keyFor, newKey, publicKeyBase64, codeText, qrSvg}.
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

  // --- QR: byte mode, level M, drawn by qr.js ----------------------------------------------

  // The 274-character code is a version 12-M symbol; the page's CSS scales it to the screen.
  const QR_OPTIONS = { ecl: "M", modulePx: 4, title: "ride code" };

  function qrSvg(text) {
    if (!root.PaybaoQr) throw new Error("load /static/qr.js before transit.js");
    return root.PaybaoQr.svg(text, QR_OPTIONS);
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
      box.querySelector(".qr").innerHTML = qrSvg(text);
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

  root.PaybaoTransit = { keyFor, newKey, publicKeyBase64, codeText, qrSvg };
  if (typeof document !== "undefined") {
    document.addEventListener("DOMContentLoaded", () => {
      document.querySelectorAll("form.transit-key").forEach(prepareOpen);
      document.querySelectorAll(".ride-code").forEach((box) => showCode(box));
    });
  }
})(typeof window !== "undefined" ? window : globalThis);
