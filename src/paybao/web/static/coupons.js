// The cashier's coupon choice (templates/cashier/coupons.html): show what the buyer pays for
// the chosen pair, from the table the server priced; a pair that does not stack disables pay.
(function () {
  "use strict";
  var box = document.getElementById("coupons");
  if (!box) { return; }
  var table = JSON.parse(box.getAttribute("data-pay"));
  var total = parseInt(box.getAttribute("data-total"), 10);
  var button = document.getElementById("pay-button");

  function yuan(fen) {
    var text = String(fen % 100);
    return Math.floor(fen / 100) + "." + (text.length < 2 ? "0" + text : text);
  }
  function chosen(group) {
    var input = box.querySelector('input[name="coupon_' + group + '"]:checked');
    return input ? input.value : "0";
  }
  function update() {
    var pay = table[chosen("merchant") + ":" + chosen("platform")];
    var clash = pay === null || pay === undefined;
    document.getElementById("coupon-clash").hidden = !clash;
    document.getElementById("coupon-summary").hidden = clash;
    button.disabled = clash;
    if (clash) { return; }
    document.getElementById("coupon-off").textContent = "-¥" + yuan(total - pay);
    document.getElementById("coupon-pay").textContent = "¥" + yuan(pay);
    document.getElementById("pay-amount").textContent = yuan(pay);
  }
  box.addEventListener("change", update);
  update();
}());
