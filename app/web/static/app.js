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

// Ask the Monk: POST the question, read the Server-Sent Events from the
// response body as they arrive (EventSource cannot POST), render text with
// textContent only, and list the cited recipes as links.
(function () {
  var form = document.getElementById("ask-form");
  if (!form) return;
  var chat = document.getElementById("chat"), box = document.getElementById("question");
  var send = document.getElementById("ask-send"), meta = document.getElementById("ask-meta");
  var conversation = "";
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text) e.textContent = text;
    return e;
  }
  function handle(ev, data, turn) {
    var d;
    try { d = JSON.parse(data); } catch (e) { return; }
    if (ev === "token") {
      turn.text.textContent += d.text;
    } else if (ev === "citation") {
      var li = el("li"), a = el("a", null, "[" + d.n + "] " + d.name);
      a.href = d.url;
      a.setAttribute("data-recipe", d.id);
      li.appendChild(a);
      turn.cites.appendChild(li);
      turn.cites.hidden = false;
    } else if (ev === "done") {
      conversation = d.conversation || conversation;
      turn.answer.classList.add("done");
      var who = d.cache_hit ? "from the answer cache" : d.provider + " / " + d.model;
      if (d.providers && d.providers.length > 1) who += " (continued after " + d.providers.slice(0, -1).join(", ") + " failed)";
      meta.textContent = "Answered by " + who + (d.cost_usd > 0 ? " · $" + d.cost_usd.toFixed(5) + (d.estimated ? " (estimated)" : "") : "");
    } else if (ev === "error") {
      turn.answer.classList.add("failed");
      turn.answer.appendChild(el("p", "error", d.message));
    }
  }
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var q = box.value.trim();
    if (!q) return;
    var turn = { answer: el("div", "answer") };
    chat.appendChild(el("div", "question", q));
    turn.text = el("p", "answer-text");
    turn.cites = el("ul", "citations");
    turn.cites.hidden = true;
    turn.answer.appendChild(turn.text);
    turn.answer.appendChild(turn.cites);
    chat.appendChild(turn.answer);
    box.value = "";
    send.disabled = true;
    meta.textContent = "Thinking…";
    var body = { question: q };
    if (conversation) body.conversation = conversation;
    fetch("/ask/stream", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": form.getAttribute("data-csrf") || "" },
      body: JSON.stringify(body),
      credentials: "same-origin"
    }).then(function (res) {
      if (!res.ok) {
        return res.json().then(function (j) {
          turn.answer.classList.add("failed");
          turn.answer.appendChild(el("p", "error", (j.error && j.error.message) || res.statusText));
          meta.textContent = "";
        });
      }
      var reader = res.body.getReader(), dec = new TextDecoder(), buf = "";
      function pump() {
        return reader.read().then(function (r) {
          if (r.done) return;
          buf += dec.decode(r.value, { stream: true });
          var i;
          while ((i = buf.indexOf("\n\n")) >= 0) {
            var frame = buf.slice(0, i), ev = "message", data = "";
            buf = buf.slice(i + 2);
            frame.split("\n").forEach(function (line) {
              if (line.indexOf("event: ") === 0) ev = line.slice(7);
              else if (line.indexOf("data: ") === 0) data += line.slice(6);
            });
            if (data) handle(ev, data, turn);
          }
          return pump();
        });
      }
      return pump();
    }).catch(function () {
      turn.answer.appendChild(el("p", "error", "The connection was lost; ask again."));
    }).finally(function () {
      send.disabled = false;
      box.focus();
    });
  });
})();
