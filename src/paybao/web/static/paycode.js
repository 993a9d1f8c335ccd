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
 * numeric mode (up to 34 digits), both as SVG strings. No dependencies, no modules: it
 * exposes window.Paybao.{paycode, code128Modules, code128Svg, qrMatrix, qrSvg}.
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
    return svgDocument(widthPx, heightPx, "payment barcode", rects);
  }

  // --- QR version 1-M, numeric mode --------------------------------------------------------

  const QR_SIZE = 21;
  const QR_DATA_CODEWORDS = 16; // version 1, level M: 16 data + 10 error-correction codewords
  const QR_EC_CODEWORDS = 10;
  const QR_NUMERIC_DIGITS_MAX = 34;
  const QR_EC_LEVEL_M_BITS = 0; // format bits: L=1, M=0, Q=3, H=2
  const QR_QUIET_MODULES = 4;

  function qrDataCodewords(digits) {
    if (!/^[0-9]+$/.test(digits) || digits.length > QR_NUMERIC_DIGITS_MAX) {
      throw new Error("QR 1-M numeric holds 1..34 digits");
    }
    const bits = [];
    const put = (value, length) => {
      for (let i = length - 1; i >= 0; i--) bits.push((value >>> i) & 1);
    };
    put(0b0001, 4); // numeric mode
    put(digits.length, 10);
    for (let i = 0; i < digits.length; i += 3) {
      const group = digits.slice(i, i + 3);
      put(Number(group), [0, 4, 7, 10][group.length]);
    }
    const capacityBits = QR_DATA_CODEWORDS * 8;
    put(0, Math.min(4, capacityBits - bits.length)); // terminator
    while (bits.length % 8 !== 0) bits.push(0);
    const codewords = [];
    for (let i = 0; i < bits.length; i += 8) {
      codewords.push(bits.slice(i, i + 8).reduce((acc, bit) => (acc << 1) | bit, 0));
    }
    for (let pad = 0xec; codewords.length < QR_DATA_CODEWORDS; pad ^= 0xec ^ 0x11) {
      codewords.push(pad);
    }
    return codewords;
  }

  function gfMultiply(x, y) {
    // GF(2^8) modulo x^8 + x^4 + x^3 + x^2 + 1 (0x11D), Russian-peasant multiplication.
    let product = 0;
    for (let i = 7; i >= 0; i--) {
      product = (product << 1) ^ ((product >>> 7) * 0x11d);
      product ^= ((y >>> i) & 1) * x;
    }
    return product;
  }

  function reedSolomonRemainder(data, degree) {
    const divisor = new Array(degree).fill(0);
    divisor[degree - 1] = 1;
    let rootValue = 1;
    for (let i = 0; i < degree; i++) {
      for (let j = 0; j < degree; j++) {
        divisor[j] = gfMultiply(divisor[j], rootValue);
        if (j + 1 < degree) divisor[j] ^= divisor[j + 1];
      }
      rootValue = gfMultiply(rootValue, 0x02);
    }
    const remainder = new Array(degree).fill(0);
    for (const byte of data) {
      const factor = byte ^ remainder.shift();
      remainder.push(0);
      for (let i = 0; i < degree; i++) remainder[i] ^= gfMultiply(divisor[i], factor);
    }
    return remainder;
  }

  function qrFunctionPatterns() {
    const dark = [];
    const reserved = [];
    for (let y = 0; y < QR_SIZE; y++) {
      dark.push(new Array(QR_SIZE).fill(false));
      reserved.push(new Array(QR_SIZE).fill(false));
    }
    const set = (x, y, isDark) => {
      dark[y][x] = isDark;
      reserved[y][x] = true;
    };
    for (let i = 0; i < QR_SIZE; i++) {
      set(6, i, i % 2 === 0); // timing patterns
      set(i, 6, i % 2 === 0);
    }
    for (const [cx, cy] of [[3, 3], [QR_SIZE - 4, 3], [3, QR_SIZE - 4]]) {
      for (let dy = -4; dy <= 4; dy++) {
        for (let dx = -4; dx <= 4; dx++) {
          const x = cx + dx;
          const y = cy + dy;
          const ring = Math.max(Math.abs(dx), Math.abs(dy));
          if (x >= 0 && x < QR_SIZE && y >= 0 && y < QR_SIZE) set(x, y, ring !== 2 && ring !== 4);
        }
      }
    }
    drawFormatBits(set, 0); // reserve the format areas; real bits are drawn per mask
    return { dark, reserved };
  }

  function drawFormatBits(set, mask) {
    const data = (QR_EC_LEVEL_M_BITS << 3) | mask;
    let remainder = data;
    for (let i = 0; i < 10; i++) remainder = (remainder << 1) ^ ((remainder >>> 9) * 0x537);
    const bits = ((data << 10) | remainder) ^ 0x5412;
    const bit = (i) => ((bits >>> i) & 1) === 1;
    for (let i = 0; i <= 5; i++) set(8, i, bit(i));
    set(8, 7, bit(6));
    set(8, 8, bit(7));
    set(7, 8, bit(8));
    for (let i = 9; i < 15; i++) set(14 - i, 8, bit(i));
    for (let i = 0; i < 8; i++) set(QR_SIZE - 1 - i, 8, bit(i));
    for (let i = 8; i < 15; i++) set(8, QR_SIZE - 15 + i, bit(i));
    set(8, QR_SIZE - 8, true); // the dark module
  }

  function placeCodewords(dark, reserved, codewords) {
    let bitIndex = 0;
    for (let right = QR_SIZE - 1; right >= 1; right -= 2) {
      if (right === 6) right = 5; // skip the vertical timing column
      const upward = ((right + 1) & 2) === 0;
      for (let vert = 0; vert < QR_SIZE; vert++) {
        const y = upward ? QR_SIZE - 1 - vert : vert;
        for (let j = 0; j < 2; j++) {
          const x = right - j;
          if (reserved[y][x] || bitIndex >= codewords.length * 8) continue;
          dark[y][x] = ((codewords[bitIndex >>> 3] >>> (7 - (bitIndex & 7))) & 1) === 1;
          bitIndex++;
        }
      }
    }
  }

  const QR_MASKS = [
    (x, y) => (x + y) % 2 === 0,
    (x, y) => y % 2 === 0,
    (x) => x % 3 === 0,
    (x, y) => (x + y) % 3 === 0,
    (x, y) => (Math.floor(x / 3) + Math.floor(y / 2)) % 2 === 0,
    (x, y) => ((x * y) % 2) + ((x * y) % 3) === 0,
    (x, y) => (((x * y) % 2) + ((x * y) % 3)) % 2 === 0,
    (x, y) => (((x + y) % 2) + ((x * y) % 3)) % 2 === 0,
  ];

  function maskedMatrix(base, reserved, mask) {
    const dark = base.map((row, y) => row.map((isDark, x) => (
      reserved[y][x] ? isDark : isDark !== QR_MASKS[mask](x, y))));
    drawFormatBits((x, y, isDark) => { dark[y][x] = isDark; }, mask);
    return dark;
  }

  function penalty(dark) {
    // ISO/IEC 18004 section 7.8.3: long runs, 2x2 blocks, finder-like runs, dark balance.
    let score = 0;
    let darkCount = 0;
    const lines = [];
    for (let i = 0; i < QR_SIZE; i++) {
      lines.push(dark[i].map(Number).join(""));
      lines.push(dark.map((row) => Number(row[i])).join(""));
    }
    for (const line of lines) {
      for (const run of line.match(/0+|1+/g)) if (run.length >= 5) score += run.length - 2;
      for (const finder of ["10111010000", "00001011101"]) {
        for (let at = line.indexOf(finder); at !== -1; at = line.indexOf(finder, at + 1)) score += 40;
      }
    }
    for (let y = 0; y < QR_SIZE; y++) {
      for (let x = 0; x < QR_SIZE; x++) {
        darkCount += dark[y][x] ? 1 : 0;
        if (x && y && dark[y][x] === dark[y - 1][x] && dark[y][x] === dark[y][x - 1] &&
            dark[y][x] === dark[y - 1][x - 1]) score += 3;
      }
    }
    return score + 10 * Math.floor(Math.abs((darkCount * 100) / (QR_SIZE * QR_SIZE) - 50) / 5);
  }

  function qrMatrix(digits, mask) {
    const data = qrDataCodewords(digits);
    const codewords = data.concat(reedSolomonRemainder(data, QR_EC_CODEWORDS));
    const { dark, reserved } = qrFunctionPatterns();
    placeCodewords(dark, reserved, codewords);
    if (mask !== undefined) return maskedMatrix(dark, reserved, mask);
    let best = null;
    for (let candidate = 0; candidate < QR_MASKS.length; candidate++) {
      const matrix = maskedMatrix(dark, reserved, candidate);
      const score = penalty(matrix);
      if (best === null || score < best.score) best = { score, matrix };
    }
    return best.matrix;
  }

  function qrSvg(digits, options) {
    const modulePx = (options && options.modulePx) || 6;
    const matrix = qrMatrix(digits);
    const sidePx = (QR_SIZE + 2 * QR_QUIET_MODULES) * modulePx;
    const rects = [];
    matrix.forEach((row, y) => {
      for (let x = 0; x < QR_SIZE; ) {
        let run = 1;
        while (x + run < QR_SIZE && row[x + run] === row[x]) run++;
        if (row[x]) {
          const left = (QR_QUIET_MODULES + x) * modulePx;
          const top = (QR_QUIET_MODULES + y) * modulePx;
          rects.push(`<rect x="${left}" y="${top}" width="${run * modulePx}" height="${modulePx}"/>`);
        }
        x += run;
      }
    });
    return svgDocument(sidePx, sidePx, "payment QR code", rects);
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
    qrMatrix,
    qrSvg,
  });
})(typeof window !== "undefined" ? window : globalThis);
