// Servings scaling on the recipe page: quantities are rendered in
// <span class="qty" data-q data-qmax>, rescaled here without a round trip.
(function () {
  var FRACTIONS = [[1/8, "⅛"], [1/4, "¼"], [1/3, "⅓"], [3/8, "⅜"], [1/2, "½"], [5/8, "⅝"], [2/3, "⅔"], [3/4, "¾"], [7/8, "⅞"]];
  function fmt(q) {
    if (!(q > 0)) return "0";
    if (q >= 20) return String(Math.round(q));
    var whole = Math.floor(q), frac = q - whole;
    if (frac < 0.03) return String(whole);
    if (frac > 0.97) return String(whole + 1);
    for (var i = 0; i < FRACTIONS.length; i++) {
      if (Math.abs(frac - FRACTIONS[i][0]) < 0.03) return (whole ? whole + " " : "") + FRACTIONS[i][1];
    }
    return String(Math.round(q * 100) / 100);
  }
  function rescale(article, servings) {
    var base = parseFloat(article.getAttribute("data-base-servings"));
    if (!(base > 0) || !(servings > 0)) return;
    var f = servings / base;
    article.querySelectorAll(".qty").forEach(function (el) {
      if (!el.hasAttribute("data-q0")) {
        // the page may have been rendered scaled already: remember the base
        var cur = parseFloat(article.getAttribute("data-rendered-servings") || base);
        el.setAttribute("data-q0", parseFloat(el.getAttribute("data-q")) * base / cur);
        el.setAttribute("data-qmax0", parseFloat(el.getAttribute("data-qmax") || 0) * base / cur);
      }
      var q = parseFloat(el.getAttribute("data-q0")) * f;
      var qmax = parseFloat(el.getAttribute("data-qmax0")) * f;
      el.textContent = qmax > q ? fmt(q) + "–" + fmt(qmax) : fmt(q);
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var article = document.querySelector("article.recipe");
    var input = document.getElementById("servings");
    if (!article || !input) return;
    article.setAttribute("data-rendered-servings", input.value);
    function update() {
      var n = parseInt(input.value, 10);
      if (n >= 1 && n <= 1000) {
        rescale(article, n);
        var url = new URL(window.location.href);
        url.searchParams.set("servings", n);
        history.replaceState(null, "", url);
      }
    }
    input.addEventListener("input", update);
    input.addEventListener("change", update);
    document.querySelectorAll(".servings .step").forEach(function (b) {
      b.addEventListener("click", function () {
        var n = (parseInt(input.value, 10) || 1) + parseInt(b.getAttribute("data-step"), 10);
        if (n >= 1 && n <= 1000) { input.value = n; update(); }
      });
    });
  });
})();
