/*
 * paycode.js: the wallet's payment code, computed in the browser with no network.
 *
 * Bit-for-bit the algorithm of src/paybao/domain/paycode.py (read its docstring for the
 * security arithmetic). The device holds its 32-byte seed and the 9 locator digits it got at
 * bind time; the platform key never reaches the browser.
 *
 *   code = (25 + step % 6) || locator(9) || totp(7),   step = floor(unix_time_s / 60)
 *   totp = HMAC-SHA256(seed, step as 8 bytes big-endian || locator ASCII),
 *          8 bytes at offset (last byte & 15), top bit cleared, mod 10^7
 *
 * Also draws the code offline: a Code128 barcode (code set C) and a version 1-M QR code in
 * numeric mode (up to 34 digits), both as SVG strings; the QR by qr.js, the wallet's one QR
 * encoder, which the page loads first (the membership card's dynamic code draws with them too,
 * `options.title` naming the picture). No modules: it exposes
 * window.Paybao.{paycode, code128Modules, code128Svg, qrSvg}.
 */
(function (root) {
  "use strict";

  const STEP_S = 60;
  const PREFIX_MIN = 25;
  const PREFIX_COUNT = 6;
  const LOCATOR_DIGITS = 9;
  const TOTP_MODULUS = 10000000n;
  const TOTP_DIGITS = 7;
  const SEED_BYTES = 32;

  // --- the code --------------------------------------------------------------------------

  function base64ToBytes(seedBase64) {
    // Accept URL-safe base64 and missing padding too; the server sends standard base64.
    let text = String(seedBase64).replace(/-/g, "+").replace(/_/g, "/").replace(/\s/g, "");
    while (text.length % 4 !== 0) text += "=";
    const binary = atob(text);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes;
  }

  async function hmacSha256(keyBytes, messageBytes) {
    const key = await root.crypto.subtle.importKey(
      "raw", keyBytes, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    return new Uint8Array(await root.crypto.subtle.sign("HMAC", key, messageBytes));
  }

  async function totpDigits(seedBytes, locatorDigits, step) {
    const message = new Uint8Array(8 + LOCATOR_DIGITS);
    new DataView(message.buffer).setBigUint64(0, BigInt(step), false);
    for (let i = 0; i < LOCATOR_DIGITS; i++) message[8 + i] = locatorDigits.charCodeAt(i);
    const digest = await hmacSha256(seedBytes, message);
    const offset = digest[31] & 0x0f; // RFC 4226 dynamic truncation, widened to 8 bytes
    const value = new DataView(digest.buffer).getBigUint64(offset, false) & 0x7fffffffffffffffn;
    return (value % TOTP_MODULUS).toString().padStart(TOTP_DIGITS, "0");
  }

  async function paycode(seedBase64, locatorDigits, unixTimeS) {
    const seed = base64ToBytes(seedBase64);
    if (seed.length !== SEED_BYTES) throw new Error("seed must be 32 bytes");
    if (!/^[0-9]{9}$/.test(locatorDigits)) throw new Error("locator must be 9 digits");
    if (!Number.isSafeInteger(unixTimeS) || unixTimeS < 0) throw new Error("bad unix time");
    const step = Math.floor(unixTimeS / STEP_S);
    const prefix = PREFIX_MIN + (step % PREFIX_COUNT);
    return String(prefix) + locatorDigits + (await totpDigits(seed, locatorDigits, step));
  }

  function secondsLeftInStep(unixTimeS) {
    return STEP_S - (Math.floor(unixTimeS) % STEP_S);
  }

  // --- Code128 (code set C; an odd last digit goes in set B) ------------------------------

  // Bar/space widths of symbols 0..106; the same table as adapters/qr.py.
  const CODE128_WIDTHS = (
    "212222 222122 222221 121223 121322 131222 122213 122312 132212 221213 " +
    "221312 231212 112232 122132 122231 113222 123122 123221 223211 221132 " +
    "221231 213212 223112 312131 311222 321122 321221 312212 322112 322211 " +
    "212123 212321 232121 111323 131123 131321 112313 132113 132311 211313 " +
    "231113 231311 112133 112331 132131 113123 113321 133121 313121 211331 " +
    "231131 213113 213311 213131 311123 311321 331121 312113 312311 332111 " +
    "314111 221411 431111 111224 111422 121124 121421 141122 141221 112214 " +
    "112412 122114 122411 142112 142211 241211 221114 413111 241112 134111 " +
    "111242 121142 121241 114212 124112 124211 411212 421112 421211 212141 " +
    "214121 412121 111143 111341 131141 114113 114311 411113 411311 113141 " +
    "114131 311141 411131 211412 211214 211232 2331112").split(" ");
  const CODE128_START_C = 105;
  const CODE128_CODE_B = 100;
  const CODE128_STOP = 106;
  const CODE128_QUIET_MODULES = 10;

  function code128Values(digits) {
    if (!/^[0-9]+$/.test(digits)) throw new Error("Code128-C encodes digits only");
    const values = [CODE128_START_C];
    const pairEnd = digits.length - (digits.length % 2);
    for (let i = 0; i < pairEnd; i += 2) values.push(Number(digits.slice(i, i + 2)));
    if (pairEnd < digits.length) values.push(CODE128_CODE_B, digits.charCodeAt(pairEnd) - 32);
    let checksum = values[0];
    for (let i = 1; i < values.length; i++) checksum += i * values[i];
    values.push(checksum % 103, CODE128_STOP);
    return values;
  }

  function code128Modules(digits) {
    let modules = "";
    for (const value of code128Values(digits)) {
      const widths = CODE128_WIDTHS[value];
      for (let i = 0; i < widths.length; i++) modules += (i % 2 === 0 ? "1" : "0").repeat(+widths[i]);
    }
    return modules;
  }

  function code128Svg(digits, options) {
    const modulePx = (options && options.modulePx) || 2;
    const heightPx = (options && options.heightPx) || 80;
    const modules = code128Modules(digits);
    const widthPx = (modules.length + 2 * CODE128_QUIET_MODULES) * modulePx;
    const rects = [];
    for (let i = 0; i < modules.length; ) {
      let run = 1;
      while (modules[i + run] === modules[i]) run++;
      if (modules[i] === "1") {
        const x = (CODE128_QUIET_MODULES + i) * modulePx;
        rects.push(`<rect x="${x}" y="0" width="${run * modulePx}" height="${heightPx}"/>`);
      }
      i += run;
    }
    return svgDocument(widthPx, heightPx, (options && options.title) || "payment barcode", rects);
  }

  // --- QR: version 1-M, numeric mode, drawn by qr.js --------------------------------------

  // 18 digits always fit version 1-M (up to 34); the cap keeps a till's scanner seeing the same
  // 21-module symbol it always saw, whatever the code grows into.
  const QR_OPTIONS = { ecl: "M", versionMax: 1, title: "payment QR code" };

  function qrSvg(digits, options) {
    if (!/^[0-9]+$/.test(digits)) throw new Error("a payment code QR holds digits only");
    if (!root.PaybaoQr) throw new Error("load /static/qr.js before paycode.js");
    const modulePx = (options && options.modulePx) || 6;
    const title = (options && options.title) || QR_OPTIONS.title;
    return root.PaybaoQr.svg(digits, Object.assign({ modulePx }, QR_OPTIONS, { title }));
  }

  function svgDocument(widthPx, heightPx, title, rects) {
    return `<svg xmlns="http://www.w3.org/2000/svg" width="${widthPx}" height="${heightPx}" ` +
      `viewBox="0 0 ${widthPx} ${heightPx}" shape-rendering="crispEdges" role="img">` +
      `<title>${title}</title><rect width="100%" height="100%" fill="#fff"/>` +
      `<g fill="#000">${rects.join("")}</g></svg>`;
  }

  root.Paybao = Object.assign(root.Paybao || {}, {
    STEP_S,
    paycode,
    secondsLeftInStep,
    code128Modules,
    code128Svg,
    qrSvg,
  });
})(typeof window !== "undefined" ? window : globalThis);
