/*
 * qr.js: the one QR code encoder of the wallet's pages, in the browser with no network. The
 * payment code page (paycode.js: 18 digits) and the ride code page (transit.js: a 274-character
 * signed code) both draw with it, so a fix to the encoder reaches both.
 *
 * ISO/IEC 18004 model 2, versions 1..40, error-correction levels L/M/Q/H, one segment in numeric
 * mode (a string of digits only) or byte mode (any other string, as UTF-8, or a Uint8Array), in
 * the smallest version that holds it. The mask is the one with the lowest penalty (section 7.8.3)
 * unless the caller names one. The Reed-Solomon blocks and the module placement follow Nayuki's
 * reference encoder (MIT); tests/unit/test_qr_js.py holds every version to segno, bit for bit.
 *
 * No dependencies, no modules: window.PaybaoQr.{encode, svg}. A refusal is an Error whose
 * `code` is stable: QR_EMPTY, QR_TOO_LONG, QR_BAD_OPTION.
 */
(function (root) {
  "use strict";

  const VERSION_MIN = 1;
  const VERSION_MAX = 40;
  // The most a version 40-L symbol holds in any of our modes (numeric); a longer string is
  // refused before it is even UTF-8 encoded.
  const INPUT_CHARS_MAX = 7089;
  const MODULE_PX_MAX = 64;
  const QUIET_MODULES_MAX = 16;
  const TITLE_CHARS_MAX = 200;

  // Per level: its two format bits (table 12) and its row in the tables below.
  const LEVELS = { L: [1, 0], M: [0, 1], Q: [3, 2], H: [2, 3] };

  // ISO/IEC 18004 table 9, indexed [level row][version]: error-correction codewords per block
  // and the number of blocks.
  const ECC_CODEWORDS_PER_BLOCK = [
    [-1, 7, 10, 15, 20, 26, 18, 20, 24, 30, 18, 20, 24, 26, 30, 22, 24, 28, 30, 28, 28, 28, 28, 30, 30, 26, 28, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30],
    [-1, 10, 16, 26, 18, 24, 16, 18, 22, 22, 26, 30, 22, 22, 24, 24, 28, 28, 26, 26, 26, 26, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28],
    [-1, 13, 22, 18, 26, 18, 24, 18, 22, 20, 24, 28, 26, 24, 20, 30, 24, 28, 28, 26, 30, 28, 30, 30, 30, 30, 28, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30],
    [-1, 17, 28, 22, 16, 22, 28, 26, 26, 24, 28, 24, 28, 22, 24, 24, 30, 28, 28, 26, 28, 30, 24, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30],
  ];
  const ECC_BLOCKS = [
    [-1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 4, 4, 4, 4, 4, 6, 6, 6, 6, 7, 8, 8, 9, 9, 10, 12, 12, 12, 13, 14, 15, 16, 17, 18, 19, 19, 20, 21, 22, 24, 25],
    [-1, 1, 1, 1, 2, 2, 4, 4, 4, 5, 5, 5, 8, 9, 9, 10, 10, 11, 13, 14, 16, 17, 17, 18, 20, 21, 23, 25, 26, 28, 29, 31, 33, 35, 37, 38, 40, 43, 45, 47, 49],
    [-1, 1, 1, 2, 2, 4, 4, 6, 6, 8, 8, 8, 10, 12, 16, 12, 17, 16, 18, 21, 20, 23, 23, 25, 27, 29, 34, 34, 35, 38, 40, 43, 45, 48, 51, 53, 56, 59, 62, 65, 68],
    [-1, 1, 1, 2, 4, 4, 4, 5, 6, 8, 8, 11, 11, 16, 16, 18, 16, 19, 21, 25, 25, 25, 34, 30, 32, 35, 37, 40, 42, 45, 48, 51, 54, 57, 60, 63, 66, 70, 74, 77, 81],
  ];

  // Mode indicator and character-count bits for versions 1..9, 10..26, 27..40 (table 3).
  const MODES = {
    numeric: { indicator: 0b0001, countBits: [10, 12, 14] },
    byte: { indicator: 0b0100, countBits: [8, 16, 16] },
  };

  function refuse(code, message) {
    const error = new Error(code + ": " + message);
    error.code = code;
    return error;
  }

  // --- the data codewords ------------------------------------------------------------------

  function rawModules(version) {
    // Modules left for data and error correction once the function patterns are drawn.
    let count = (16 * version + 128) * version + 64;
    if (version >= 2) {
      const align = Math.floor(version / 7) + 2;
      count -= (25 * align - 10) * align - 55;
      if (version >= 7) count -= 36;
    }
    return count;
  }

  function dataCodewords(version, levelRow) {
    return Math.floor(rawModules(version) / 8) -
      ECC_CODEWORDS_PER_BLOCK[levelRow][version] * ECC_BLOCKS[levelRow][version];
  }

  function countBits(mode, version) {
    return MODES[mode].countBits[version <= 9 ? 0 : version <= 26 ? 1 : 2];
  }

  function segmentBits(mode, length) {
    if (mode === "byte") return length * 8;
    return 10 * Math.floor(length / 3) + [0, 4, 7][length % 3];
  }

  function dataBits(mode, payload, version, capacityBits) {
    const bits = [];
    const put = (value, length) => {
      for (let i = length - 1; i >= 0; i--) bits.push((value >>> i) & 1);
    };
    put(MODES[mode].indicator, 4);
    put(payload.length, countBits(mode, version));
    if (mode === "byte") {
      for (const byte of payload) put(byte, 8);
    } else {
      for (let i = 0; i < payload.length; i += 3) {
        const group = payload.slice(i, i + 3);
        put(Number(group), [0, 4, 7, 10][group.length]);
      }
    }
    put(0, Math.min(4, capacityBits - bits.length)); // terminator
    put(0, (8 - (bits.length % 8)) % 8);
    for (let pad = 0xec; bits.length < capacityBits; pad ^= 0xec ^ 0x11) put(pad, 8);
    const codewords = [];
    for (let i = 0; i < bits.length; i += 8) {
      codewords.push(bits.slice(i, i + 8).reduce((acc, bit) => (acc << 1) | bit, 0));
    }
    return codewords;
  }

  // --- Reed-Solomon over GF(2^8) mod x^8 + x^4 + x^3 + x^2 + 1 -----------------------------

  function gfMultiply(x, y) {
    let product = 0;
    for (let i = 7; i >= 0; i--) {
      product = (product << 1) ^ ((product >>> 7) * 0x11d);
      product ^= ((y >>> i) & 1) * x;
    }
    return product & 0xff;
  }

  function rsDivisor(degree) {
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
    return divisor;
  }

  function rsRemainder(data, divisor) {
    const remainder = divisor.map(() => 0);
    for (const byte of data) {
      const factor = byte ^ remainder.shift();
      remainder.push(0);
      divisor.forEach((coefficient, i) => { remainder[i] ^= gfMultiply(coefficient, factor); });
    }
    return remainder;
  }

  function withErrorCorrection(version, levelRow, data) {
    // Split into blocks (the short ones first), add each block's error correction, then
    // interleave: data codewords column by column, then error-correction codewords likewise.
    const blockCount = ECC_BLOCKS[levelRow][version];
    const eccLength = ECC_CODEWORDS_PER_BLOCK[levelRow][version];
    const rawCodewords = Math.floor(rawModules(version) / 8);
    const shortCount = blockCount - (rawCodewords % blockCount);
    const shortLength = Math.floor(rawCodewords / blockCount);
    const divisor = rsDivisor(eccLength);
    const blocks = [];
    for (let i = 0, at = 0; i < blockCount; i++) {
      const block = data.slice(at, at + shortLength - eccLength + (i < shortCount ? 0 : 1));
      at += block.length;
      const ecc = rsRemainder(block, divisor);
      if (i < shortCount) block.push(0); // a gap the interleaving skips
      blocks.push(block.concat(ecc));
    }
    const result = [];
    for (let i = 0; i < blocks[0].length; i++) {
      blocks.forEach((block, j) => {
        if (i !== shortLength - eccLength || j >= shortCount) result.push(block[i]);
      });
    }
    return result;
  }

  // --- the symbol ------------------------------------------------------------------------------

  function alignmentPositions(version) {
    if (version === 1) return [];
    const count = Math.floor(version / 7) + 2;
    const step = Math.floor((version * 8 + count * 3 + 5) / (count * 4 - 4)) * 2;
    const positions = [6];
    for (let at = version * 4 + 10; positions.length < count; at -= step) positions.splice(1, 0, at);
    return positions;
  }

  function functionPatterns(version, size) {
    const dark = Array.from({ length: size }, () => new Array(size).fill(false));
    const reserved = Array.from({ length: size }, () => new Array(size).fill(false));
    const set = (x, y, isDark) => {
      dark[y][x] = isDark;
      reserved[y][x] = true;
    };
    for (let i = 0; i < size; i++) {
      set(6, i, i % 2 === 0); // timing patterns
      set(i, 6, i % 2 === 0);
    }
    for (const [cx, cy] of [[3, 3], [size - 4, 3], [3, size - 4]]) {
      for (let dy = -4; dy <= 4; dy++) {
        for (let dx = -4; dx <= 4; dx++) {
          const x = cx + dx;
          const y = cy + dy;
          const ring = Math.max(Math.abs(dx), Math.abs(dy));
          if (x >= 0 && x < size && y >= 0 && y < size) set(x, y, ring !== 2 && ring !== 4);
        }
      }
    }
    const positions = alignmentPositions(version);
    const last = positions.length - 1;
    positions.forEach((px, i) => positions.forEach((py, j) => {
      if ((i === 0 && j === 0) || (i === 0 && j === last) || (i === last && j === 0)) return;
      for (let dy = -2; dy <= 2; dy++) {
        for (let dx = -2; dx <= 2; dx++) {
          set(px + dx, py + dy, Math.max(Math.abs(dx), Math.abs(dy)) !== 1);
        }
      }
    }));
    drawFormatBits(set, size, 0, 0); // reserves the format areas; real bits are drawn per mask
    if (version >= 7) drawVersionBits(set, size, version);
    return { dark, reserved };
  }

  function drawFormatBits(set, size, levelBits, mask) {
    const data = (levelBits << 3) | mask;
    let remainder = data;
    for (let i = 0; i < 10; i++) remainder = (remainder << 1) ^ ((remainder >>> 9) * 0x537);
    const bits = ((data << 10) | remainder) ^ 0x5412;
    const bit = (i) => ((bits >>> i) & 1) === 1;
    for (let i = 0; i <= 5; i++) set(8, i, bit(i));
    set(8, 7, bit(6));
    set(8, 8, bit(7));
    set(7, 8, bit(8));
    for (let i = 9; i < 15; i++) set(14 - i, 8, bit(i));
    for (let i = 0; i < 8; i++) set(size - 1 - i, 8, bit(i));
    for (let i = 8; i < 15; i++) set(8, size - 15 + i, bit(i));
    set(8, size - 8, true); // the dark module
  }

  function drawVersionBits(set, size, version) {
    let remainder = version;
    for (let i = 0; i < 12; i++) remainder = (remainder << 1) ^ ((remainder >>> 11) * 0x1f25);
    const bits = (version << 12) | remainder;
    for (let i = 0; i < 18; i++) {
      const isDark = ((bits >>> i) & 1) === 1;
      const a = size - 11 + (i % 3);
      const b = Math.floor(i / 3);
      set(a, b, isDark);
      set(b, a, isDark);
    }
  }

  function placeCodewords(dark, reserved, codewords) {
    const size = dark.length;
    let bitIndex = 0;
    for (let right = size - 1; right >= 1; right -= 2) {
      if (right === 6) right = 5; // skip the vertical timing column
      const upward = ((right + 1) & 2) === 0;
      for (let vert = 0; vert < size; vert++) {
        const y = upward ? size - 1 - vert : vert;
        for (let j = 0; j < 2; j++) {
          const x = right - j;
          if (reserved[y][x] || bitIndex >= codewords.length * 8) continue;
          dark[y][x] = ((codewords[bitIndex >>> 3] >>> (7 - (bitIndex & 7))) & 1) === 1;
          bitIndex++;
        }
      }
    }
  }

  const MASKS = [
    (x, y) => (x + y) % 2 === 0,
    (x, y) => y % 2 === 0,
    (x) => x % 3 === 0,
    (x, y) => (x + y) % 3 === 0,
    (x, y) => (Math.floor(x / 3) + Math.floor(y / 2)) % 2 === 0,
    (x, y) => ((x * y) % 2) + ((x * y) % 3) === 0,
    (x, y) => (((x * y) % 2) + ((x * y) % 3)) % 2 === 0,
    (x, y) => (((x + y) % 2) + ((x * y) % 3)) % 2 === 0,
  ];

  function masked(base, reserved, levelBits, mask) {
    const dark = base.map((row, y) => row.map((isDark, x) => (
      reserved[y][x] ? isDark : isDark !== MASKS[mask](x, y))));
    drawFormatBits((x, y, isDark) => { dark[y][x] = isDark; }, dark.length, levelBits, mask);
    return dark;
  }

  function penalty(dark) {
    // Section 7.8.3: long runs, 2x2 blocks, finder-like runs, dark balance. Scored with the
    // format bits drawn (the standard allows either; paycode.js always did it this way).
    const size = dark.length;
    let score = 0;
    let darkCount = 0;
    const lines = [];
    for (let i = 0; i < size; i++) {
      lines.push(dark[i].map(Number).join(""));
      lines.push(dark.map((row) => Number(row[i])).join(""));
    }
    for (const line of lines) {
      for (const run of line.match(/0+|1+/g)) if (run.length >= 5) score += run.length - 2;
      for (const finder of ["10111010000", "00001011101"]) {
        for (let at = line.indexOf(finder); at !== -1; at = line.indexOf(finder, at + 1)) score += 40;
      }
    }
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        darkCount += dark[y][x] ? 1 : 0;
        if (x && y && dark[y][x] === dark[y - 1][x] && dark[y][x] === dark[y][x - 1] &&
            dark[y][x] === dark[y - 1][x - 1]) score += 3;
      }
    }
    return score + 10 * Math.floor(Math.abs((darkCount * 100) / (size * size) - 50) / 5);
  }

  // --- the API -------------------------------------------------------------------------------

  function versionBound(options, name, fallback) {
    const value = options[name] === undefined ? fallback : options[name];
    if (!Number.isInteger(value) || value < VERSION_MIN || value > VERSION_MAX) {
      throw refuse("QR_BAD_OPTION", `${name} must be an integer in ${VERSION_MIN}..${VERSION_MAX}`);
    }
    return value;
  }

  function payloadOf(input) {
    if (input instanceof Uint8Array) {
      if (input.length > INPUT_CHARS_MAX) throw refuse("QR_TOO_LONG", `${input.length} bytes`);
      return { mode: "byte", payload: input };
    }
    if (typeof input !== "string") throw refuse("QR_BAD_OPTION", "encode a string or a Uint8Array");
    if (input.length > INPUT_CHARS_MAX) throw refuse("QR_TOO_LONG", `${input.length} characters`);
    if (/^[0-9]+$/.test(input)) return { mode: "numeric", payload: input };
    return { mode: "byte", payload: new TextEncoder().encode(input) };
  }

  /**
   * encode(input, {ecl = "M", versionMin = 1, versionMax = 40, mask}) ->
   *   {version, ecl, mode, mask, size, modules}: modules[y][x] is true for a dark module
   * (without the quiet zone).
   */
  function encode(input, options) {
    const opts = options || {};
    const ecl = opts.ecl === undefined ? "M" : opts.ecl;
    if (!Object.prototype.hasOwnProperty.call(LEVELS, ecl)) {
      throw refuse("QR_BAD_OPTION", "ecl must be one of L, M, Q, H");
    }
    const [levelBits, levelRow] = LEVELS[ecl];
    const versionMin = versionBound(opts, "versionMin", VERSION_MIN);
    const versionMax = versionBound(opts, "versionMax", VERSION_MAX);
    const mask = opts.mask;
    if (mask !== undefined && !(Number.isInteger(mask) && mask >= 0 && mask < MASKS.length)) {
      throw refuse("QR_BAD_OPTION", "mask must be an integer in 0..7");
    }
    const { mode, payload } = payloadOf(input);
    if (payload.length === 0) throw refuse("QR_EMPTY", "nothing to encode");
    let version = versionMin;
    for (; version <= versionMax; version++) {
      const needed = 4 + countBits(mode, version) + segmentBits(mode, payload.length);
      const countFits = payload.length < 2 ** countBits(mode, version);
      if (countFits && needed <= dataCodewords(version, levelRow) * 8) break;
    }
    if (version > versionMax) {
      throw refuse("QR_TOO_LONG",
        `${payload.length} ${mode === "byte" ? "bytes" : "digits"} do not fit a version ${versionMax}-${ecl} QR code`);
    }
    const data = dataBits(mode, payload, version, dataCodewords(version, levelRow) * 8);
    const size = version * 4 + 17;
    const { dark, reserved } = functionPatterns(version, size);
    placeCodewords(dark, reserved, withErrorCorrection(version, levelRow, data));
    let best = null;
    for (let candidate = 0; candidate < MASKS.length; candidate++) {
      if (mask !== undefined && candidate !== mask) continue;
      const modules = masked(dark, reserved, levelBits, candidate);
      const score = mask === undefined ? penalty(modules) : 0;
      if (best === null || score < best.score) best = { score, mask: candidate, modules };
    }
    return { version, ecl, mode, mask: best.mask, size, modules: best.modules };
  }

  function escapeXml(text) {
    return String(text).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
  }

  /**
   * svg(input, {modulePx = 4, quietModules = 4, title, ...encode's options}) -> an SVG string:
   * a white square and one black path of the dark runs of each row, in module units (viewBox),
   * drawn modulePx pixels to a module with crisp edges.
   */
  function svg(input, options) {
    const opts = options || {};
    const modulePx = opts.modulePx === undefined ? 4 : opts.modulePx;
    const quiet = opts.quietModules === undefined ? 4 : opts.quietModules;
    if (!Number.isInteger(modulePx) || modulePx < 1 || modulePx > MODULE_PX_MAX) {
      throw refuse("QR_BAD_OPTION", `modulePx must be an integer in 1..${MODULE_PX_MAX}`);
    }
    if (!Number.isInteger(quiet) || quiet < 0 || quiet > QUIET_MODULES_MAX) {
      throw refuse("QR_BAD_OPTION", `quietModules must be an integer in 0..${QUIET_MODULES_MAX}`);
    }
    const { size, modules } = encode(input, opts);
    const side = size + 2 * quiet;
    const sidePx = side * modulePx;
    let path = "";
    modules.forEach((row, y) => {
      for (let x = 0; x < size; ) {
        let run = 1;
        while (x + run < size && row[x + run] === row[x]) run++;
        if (row[x]) path += `M${x + quiet} ${y + quiet}h${run}v1h-${run}z`;
        x += run;
      }
    });
    const title = opts.title === undefined ? "" :
      `<title>${escapeXml(String(opts.title).slice(0, TITLE_CHARS_MAX))}</title>`;
    return `<svg xmlns="http://www.w3.org/2000/svg" width="${sidePx}" height="${sidePx}" ` +
      `viewBox="0 0 ${side} ${side}" shape-rendering="crispEdges" role="img">${title}` +
      `<rect width="${side}" height="${side}" fill="#fff"/><path d="${path}" fill="#000"/></svg>`;
  }

  root.PaybaoQr = { VERSION_MIN, VERSION_MAX, encode, svg };
})(typeof window !== "undefined" ? window : globalThis);
