/*
 * member_card_code.js: a membership card's dynamic write-off code (write_off_type dqrcode or
 * dbarcode) on the wallet's card page.
 *
 * The platform makes each code (POST <data-code-url>, the CSRF token in a header: JSON
 * {code, expires_in_s, barcode}); this script draws it with paycode.js (a QR by qr.js, and a
 * Code128 barcode for dbarcode), counts it down on this phone's own clock from expires_in_s (so
 * the phone's clock need not agree with the server's), and asks for the next one when
 * data-refresh-ahead-s are left, which gives a till that scanned the old code a moment before
 * time to query with it. A code that has run out is taken off the screen at once.
 *
 * The shown code is kept in localStorage until it runs out, so a reload or a second tab shows
 * it again rather than asking for another (the platform refuses a card's codes asked for
 * within seconds of each other: 429 with retry_after_s, and this script waits that long). A
 * 409 (the template went back to a static code) or a 404 (the card is gone) reloads the page,
 * which then shows what the card is now. No modules: window.PaybaoMemberCardCode.{start}.
 */
(function (root) {
  "use strict";

  const TICK_MS = 1000;
  const RETRY_MS = 5000; // after a network fault or an answer this script cannot read
  const STORAGE_PREFIX = "paybao.member-card-code.";

  function remembered(key, nowMs) {
    try {
      const kept = JSON.parse(root.localStorage.getItem(key) || "null");
      if (kept && /^[0-9]{20}$/.test(kept.code) && kept.expiresMs > nowMs) return kept;
    } catch (error) {
      // An unreadable entry is as good as none.
    }
    root.localStorage.removeItem(key);
    return null;
  }

  function start(panel) {
    const doc = root.document;
    const key = STORAGE_PREFIX + panel.dataset.cardId;
    const aheadS = Number(panel.dataset.refreshAheadS);
    let shown = remembered(key, Date.now());
    let asking = false;
    let notBeforeMs = 0;

    function draw() {
      const barcode = doc.getElementById("card-barcode");
      const code = shown ? shown.code : "";
      doc.getElementById("card-code-value").textContent = code;
      doc.getElementById("card-qr").innerHTML =
        code ? root.Paybao.qrSvg(code, { title: "membership card QR code" }) : "";
      barcode.innerHTML =
        code && shown.barcode ? root.Paybao.code128Svg(code, { title: "membership card barcode" }) : "";
      barcode.hidden = !(code && shown.barcode);
      const leftS = code ? Math.ceil((shown.expiresMs - Date.now()) / 1000) : 0;
      doc.getElementById("card-code-seconds").textContent = String(Math.max(leftS, 0));
      doc.getElementById("card-code-wait").hidden = Boolean(code);
      doc.getElementById("card-code-timer").hidden = !code;
    }

    async function ask() {
      asking = true;
      try {
        const response = await fetch(panel.dataset.codeUrl, {
          method: "POST",
          credentials: "same-origin",
          cache: "no-store",
          headers: { "x-csrf-token": panel.dataset.csrf },
        });
        if (response.status === 409 || response.status === 404) {
          root.localStorage.removeItem(key);
          root.location.reload();
          return;
        }
        const body = await response.json();
        if (response.status === 429) {
          notBeforeMs = Date.now() + 1000 * (Number(body.retry_after_s) || RETRY_MS / 1000);
          return;
        }
        if (!response.ok || !/^[0-9]{20}$/.test(body.code)) throw new Error("no code");
        shown = { code: body.code, expiresMs: Date.now() + 1000 * body.expires_in_s, barcode: !!body.barcode };
        root.localStorage.setItem(key, JSON.stringify(shown));
        draw();
      } catch (error) {
        notBeforeMs = Date.now() + RETRY_MS;
      } finally {
        asking = false;
      }
    }

    function tick() {
      const nowMs = Date.now();
      const fresher = remembered(key, nowMs); // another tab of this card may have asked already
      if (fresher && (!shown || fresher.expiresMs > shown.expiresMs)) {
        shown = fresher;
        draw();
      }
      const leftS = shown ? Math.ceil((shown.expiresMs - nowMs) / 1000) : 0;
      if (shown && leftS <= 0) {
        shown = null; // never leave a dead code on the screen
        root.localStorage.removeItem(key);
        draw();
      }
      doc.getElementById("card-code-seconds").textContent = String(Math.max(leftS, 0));
      if ((!shown || leftS <= aheadS) && !asking && nowMs >= notBeforeMs) ask();
    }

    draw();
    tick();
    return root.setInterval(tick, TICK_MS);
  }

  root.PaybaoMemberCardCode = { start };
  if (root.document) {
    const panel = root.document.getElementById("card-dynamic-code");
    if (panel) start(panel);
  }
})(typeof window !== "undefined" ? window : globalThis);
