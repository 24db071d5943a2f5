// The event-day kiosk (services/survey/kiosk_pages.py, survey/kiosk.html): find yourself
// by name or registration number, confirm with your birth date, answer, and back to the
// start. Works offline: the page, the name index and these files are cached (the service
// worker at /survey/sw.js serves them when the network is gone); each answer is queued in
// IndexedDB under its response UUID and sent when the connection returns. A resend of a
// stored UUID changes nothing on the server, so sending twice is safe. An answer the
// server refuses stays queued as "needs staff", never dropped. Locking clears the cache,
// the queue and the worker. Name matching uses keyed hashes (services/survey/kiosk.py:
// `name_words`, `word_prefixes`, `keyed`; keep the rules in step).
(function () {
  "use strict";
  var root = document.getElementById("kiosk");
  if (!root) return;
  var texts = document.getElementById("kiosk-texts").dataset;
  var form = document.getElementById("kiosk-form");
  var CACHE = "jejak-kiosk";
  var DB = "jejak-kiosk";
  var SHOWN = 12;
  var index = null; // {key, prefix_from, hash_hex, people}
  var hmacKey = null;
  var chosen = null; // the person whose answers are being given
  var birthDate = null;
  var answerId = null;
  var lastTouch = Date.now();
  var expired = false;
  var syncing = false;
  var fixing = null; // a refused answer whose birth date staff are correcting

  function say(text, n) { return text.replace("{n}", String(n)); }
  function $(id) { return document.getElementById(id); }

  // --- screens and the reset that forgets the person -------------------------------------
  function show(name) {
    document.querySelectorAll(".kiosk-screen").forEach(function (s) {
      s.hidden = s.id !== "screen-" + name;
    });
    window.scrollTo(0, 0);
  }
  function current() {
    var open = document.querySelector(".kiosk-screen:not([hidden])");
    return open ? open.id.replace("screen-", "") : "start";
  }
  // A section whose questions are all hidden shows no lone title (form.js decides the
  // questions; its listener runs first, its script being first on the page).
  function tidySections() {
    form.querySelectorAll(".kiosk-section").forEach(function (section) {
      section.hidden = !section.querySelector(".question:not([hidden])");
    });
  }
  function reset() {
    form.reset();
    form.dispatchEvent(new Event("change")); // form.js hides what the defaults hide
    ["kiosk-search", "kiosk-day", "kiosk-month", "kiosk-year"].forEach(function (id) {
      $(id).value = "";
    });
    $("kiosk-results").textContent = "";
    $("kiosk-hint").textContent = "";
    $("kiosk-chosen").textContent = "";
    $("kiosk-answering").textContent = "";
    $("kiosk-confirm-error").hidden = true;
    showErrors(null);
    chosen = birthDate = answerId = fixing = null;
    show("start");
  }

  // --- keyed hashes, as the server makes them -------------------------------------------
  function words(text) {
    return text.normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase()
      .match(/[a-z0-9]+/g) || [];
  }
  function registrationKey(text) { return text.replace(/\s+/g, "").replace(/-/g, "").toUpperCase(); }
  function keyed(text) {
    return crypto.subtle.sign("HMAC", hmacKey, new TextEncoder().encode(text)).then(function (sig) {
      return Array.from(new Uint8Array(sig)).map(function (b) {
        return ("0" + b.toString(16)).slice(-2);
      }).join("").slice(0, index.hash_hex);
    });
  }
  function loadIndex() {
    return fetch(root.dataset.roster, {credentials: "same-origin"}).then(function (r) {
      if (!r.ok || r.redirected) throw new Error("roster " + r.status);
      return r.json();
    }).then(function (got) {
      index = got;
      index.people.forEach(function (p) { p.wordSet = new Set(p.words); });
      return crypto.subtle.importKey("raw", new TextEncoder().encode(got.key),
        {name: "HMAC", hash: "SHA-256"}, false, ["sign"]);
    }).then(function (key) { hmacKey = key; });
  }

  // --- search -----------------------------------------------------------------------------
  var searchRun = 0;
  function search() {
    var typed = $("kiosk-search").value;
    var list = $("kiosk-results");
    var run = ++searchRun;
    list.textContent = "";
    var typedWords = words(typed);
    if (!index || typed.replace(/\s+/g, "").length < 3) {
      $("kiosk-hint").textContent = typed.trim() ? texts.tooShort : "";
      return;
    }
    Promise.all([keyed("r:" + registrationKey(typed))].concat(typedWords.map(function (w) {
      return keyed("w:" + w);
    }))).then(function (hashes) {
      if (run !== searchRun) return;
      var reg = hashes[0], wanted = hashes.slice(1);
      var found = index.people.filter(function (p) {
        return p.reg === reg || (wanted.length && wanted.every(function (h) { return p.wordSet.has(h); }));
      });
      $("kiosk-hint").textContent = !found.length ? texts.none
        : found.length > SHOWN ? texts.more : "";
      found.slice(0, SHOWN).forEach(function (p) {
        var item = document.createElement("li");
        var button = document.createElement("button");
        button.type = "button";
        var who = document.createElement("strong");
        who.textContent = p.initials;
        button.appendChild(who);
        button.appendChild(document.createTextNode(p.program + " · " + p.cohort));
        button.addEventListener("click", function () { choose(p); });
        item.appendChild(button);
        list.appendChild(item);
      });
    });
  }
  function choose(person) {
    chosen = person;
    $("kiosk-chosen").textContent = person.initials + " · " + person.program + " · " + person.cohort;
    $("kiosk-confirm-error").hidden = true;
    show("confirm");
    $("kiosk-day").focus();
  }

  // --- birth date ---------------------------------------------------------------------------
  function typedBirthDate() {
    var d = parseInt($("kiosk-day").value, 10), m = parseInt($("kiosk-month").value, 10);
    var y = parseInt($("kiosk-year").value, 10);
    if (!(y >= 1900 && y <= 9999 && m >= 1 && m <= 12 && d >= 1 && d <= 31)) return null;
    var when = new Date(Date.UTC(y, m - 1, d));
    if (when.getUTCDate() !== d) return null;
    return when.toISOString().slice(0, 10);
  }
  function confirmError(text) {
    var p = $("kiosk-confirm-error");
    p.textContent = text;
    p.hidden = false;
  }
  function post(url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-Jejak-Kiosk": "1"},
      body: JSON.stringify(body),
    });
  }
  function startAnswering() {
    answerId = crypto.randomUUID();
    $("kiosk-answering").textContent = chosen.initials + " · " + chosen.program + " · " + chosen.cohort;
    show("answer");
  }
  function confirmed() {
    var typed = typedBirthDate();
    if (!typed) { confirmError(texts.noDate); return; }
    if (fixing) { refixed(typed); return; }
    birthDate = typed;
    if (!navigator.onLine) { startAnswering(); return; }
    // Online the server says at once whether the date matches; offline the send checks it.
    post(root.dataset.check, {target: chosen.id, birth_date: typed}).then(function (r) {
      if (r.ok) startAnswering();
      else if (r.status === 429) confirmError(texts.tooMany);
      else if (r.status === 422) confirmError(texts.wrongDate);
      else startAnswering();
    }, startAnswering);
  }

  // --- the queue in IndexedDB ------------------------------------------------------------
  function openDb() {
    return new Promise(function (resolve, reject) {
      var request = indexedDB.open(DB, 1);
      request.onupgradeneeded = function () {
        request.result.createObjectStore("answers", {keyPath: "id"});
      };
      request.onsuccess = function () { resolve(request.result); };
      request.onerror = function () { reject(request.error); };
    });
  }
  function withStore(mode, work) {
    return openDb().then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction("answers", mode);
        var request = work(tx.objectStore("answers"));
        tx.oncomplete = function () { db.close(); resolve(request ? request.result : undefined); };
        tx.onerror = function () { db.close(); reject(tx.error); };
      });
    });
  }
  function queued() { return withStore("readonly", function (s) { return s.getAll(); }); }
  function keep(record) { return withStore("readwrite", function (s) { return s.put(record); }); }
  function forget(id) { return withStore("readwrite", function (s) { return s.delete(id); }); }

  function showCount() {
    return queued().then(function (all) {
      var waiting = all.filter(function (r) { return r.state === "waiting"; }).length;
      var staff = all.length - waiting;
      var line = $("kiosk-queue");
      line.dataset.waiting = waiting;
      line.dataset.staff = staff;
      var parts = [];
      if (waiting) parts.push(say(texts.waiting, waiting));
      if (staff) parts.push(say(texts.staff, staff));
      var open = $("kiosk-staff-open");
      open.hidden = !staff;
      open.textContent = say(texts.staffOpen, staff);
      if (waiting && expired) parts.push(texts.expired);
      else if (waiting && !navigator.onLine) parts.push(texts.offline);
      line.textContent = parts.join(" ");
    });
  }

  // One answer to the server: "sent", "refused" (with the server's reply) or "later".
  function send(record) {
    return post(root.dataset.answers, {
      id: record.id, target: record.target, birth_date: record.birth_date, fields: record.fields,
    }).then(function (r) {
      if (r.ok) return forget(record.id).then(function () { return {outcome: "sent"}; });
      if (r.status === 401) { expired = true; return {outcome: "later"}; }
      if (r.status === 429 || r.status >= 500) return {outcome: "later"};
      return r.json().catch(function () { return {}; }).then(function (reply) {
        record.state = "needs_staff";
        record.refused = reply.refused || String(r.status);
        record.errors = reply.errors || null;
        return keep(record).then(function () { return {outcome: "refused", reply: reply}; });
      });
    }, function () { return {outcome: "later"}; });
  }
  function sync() {
    if (syncing || !navigator.onLine) return showCount();
    syncing = true;
    return queued().then(function (all) {
      var waiting = all.filter(function (r) { return r.state === "waiting"; });
      var chain = Promise.resolve(true);
      waiting.forEach(function (record) {
        chain = chain.then(function (go) {
          if (!go) return false;
          return send(record).then(function (done) { return done.outcome !== "later"; });
        });
      });
      return chain;
    }).then(function () { syncing = false; return showCount(); },
      function () { syncing = false; return showCount(); });
  }

  function showErrors(reply) {
    var box = $("kiosk-errors");
    var list = box.querySelector("ul");
    list.textContent = "";
    box.hidden = !reply;
    if (!reply) return;
    Object.keys(reply.errors || {}).forEach(function (key) {
      reply.errors[key].forEach(function (message) {
        var item = document.createElement("li");
        item.textContent = message;
        list.appendChild(item);
      });
    });
  }
  function submitted(event) {
    event.preventDefault();
    var record = {
      id: answerId, target: chosen.id, birth_date: birthDate, state: "waiting",
      fields: new URLSearchParams(new FormData(form)).toString(), saved_at: Date.now(),
    };
    keep(record).then(function () {
      if (!navigator.onLine) return {outcome: "later"};
      return send(record);
    }).then(function (done) {
      if (done.outcome === "refused" && done.reply && done.reply.refused === "answers") {
        // Still here: they can correct it (the same UUID is sent again, as waiting).
        showErrors(done.reply);
        $("kiosk-errors").scrollIntoView();
        return showCount();
      }
      show("thanks");
      setTimeout(function () { if (current() === "thanks") reset(); }, 8000);
      return sync();
    });
  }

  // --- answers that need a staff member ----------------------------------------------------
  // The server refused them (another birth date, answers to correct, a wave now closed...).
  // Staff correct the birth date or the answers, which sends the same UUID again, or delete
  // the answer; nothing else removes one from the kiosk but the lock.
  function reasonText(record) {
    var words = {birth_date: texts.reasonBirthDate, answers: texts.reasonAnswers,
                 target: texts.reasonTarget, id: texts.reasonId, closed: texts.reasonClosed};
    return words[record.refused] || say(texts.reasonOther, record.refused);
  }
  function personOf(record) {
    var found = index && index.people.filter(function (p) { return p.id === record.target; })[0];
    return found || null;
  }
  function personText(person) {
    return person ? person.initials + " · " + person.program + " · " + person.cohort
      : texts.unknownPerson;
  }
  function staffButton(text, handler, extra) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = extra || "ghost";
    button.textContent = text;
    button.addEventListener("click", handler);
    return button;
  }
  function openStaff() {
    return queued().then(function (all) {
      var list = $("kiosk-staff-list");
      list.textContent = "";
      all.filter(function (r) { return r.state !== "waiting"; }).forEach(function (record) {
        var person = personOf(record);
        var item = document.createElement("li");
        item.dataset.reason = record.refused;
        var who = document.createElement("strong");
        who.textContent = personText(person);
        item.appendChild(who);
        var why = document.createElement("p");
        var at = new Date(record.saved_at || Date.now());
        why.textContent = reasonText(record) + " (" + say(texts.savedAt,
          ("0" + at.getHours()).slice(-2) + ":" + ("0" + at.getMinutes()).slice(-2)) + ")";
        item.appendChild(why);
        var actions = document.createElement("div");
        actions.className = "nav";
        if (person && record.refused === "birth_date") {
          actions.appendChild(staffButton(texts.fixDate, function () { fixDate(record, person); }, "go"));
        }
        if (person && record.refused === "answers") {
          actions.appendChild(staffButton(texts.fixAnswers, function () { fixAnswers(record, person); }, "go"));
        }
        actions.appendChild(staffButton(texts.discard, function () { discard(record); }));
        item.appendChild(actions);
        list.appendChild(item);
      });
      show("staff");
    });
  }
  function fixDate(record, person) {
    choose(person);
    fixing = record;
  }
  function refixed(typed) {
    var record = fixing;
    record.birth_date = typed;
    record.state = "waiting";
    delete record.refused;
    delete record.errors;
    keep(record).then(function () { return sync(); }).then(function () {
      fixing = null;
      return queued();
    }).then(function (all) {
      var still = all.filter(function (r) { return r.id === record.id; })[0];
      if (still && still.state !== "waiting") return openStaff(); // refused again: say why
      reset();
    });
  }
  function fixAnswers(record, person) {
    form.reset();
    var params = new URLSearchParams(record.fields);
    params.forEach(function (value, name) {
      form.querySelectorAll("[name=\"" + CSS.escape(name) + "\"]").forEach(function (field) {
        if (field.type === "checkbox" || field.type === "radio") {
          if (field.value === value) field.checked = true;
        } else {
          field.value = value;
        }
      });
    });
    form.dispatchEvent(new Event("change"));
    chosen = person;
    birthDate = record.birth_date;
    answerId = record.id;
    $("kiosk-answering").textContent = personText(person);
    show("answer");
    showErrors(record.errors ? record : null);
  }
  function discard(record) {
    if (!window.confirm(texts.discardAsk)) return;
    forget(record.id).then(showCount).then(function () {
      return queued();
    }).then(function (all) {
      if (all.some(function (r) { return r.state !== "waiting"; })) return openStaff();
      reset();
    });
  }

  // --- lock ---------------------------------------------------------------------------------
  function clearEverything() {
    var steps = [];
    if (window.caches) {
      steps.push(caches.keys().then(function (names) {
        return Promise.all(names.map(function (n) { return caches.delete(n); }));
      }));
    }
    steps.push(new Promise(function (resolve) {
      var request = indexedDB.deleteDatabase(DB);
      request.onsuccess = request.onerror = request.onblocked = function () { resolve(); };
    }));
    if (navigator.serviceWorker) {
      steps.push(navigator.serviceWorker.getRegistrations().then(function (all) {
        return Promise.all(all.map(function (r) { return r.unregister(); }));
      }));
    }
    return Promise.all(steps);
  }
  function lock() {
    if (!navigator.onLine) { window.alert(texts.lockOffline); return; }
    queued().then(function (all) {
      var ask = all.length ? say(texts.lockLoses, all.length) : texts.lockAsk;
      if (!window.confirm(ask)) return;
      post(root.dataset.lock, {}).then(function (r) {
        if (!r.ok) { window.alert(texts.lockOffline); return; }
        clearEverything().then(function () { window.location.replace(root.dataset.afterLock); });
      }, function () { window.alert(texts.lockOffline); });
    });
  }

  // --- offline files --------------------------------------------------------------------------
  function cacheForOffline() {
    if (!window.caches || !navigator.serviceWorker) return;
    navigator.serviceWorker.register(root.dataset.worker).catch(function () {});
    var files = [window.location.pathname, root.dataset.roster]
      .concat(root.dataset.files.split(" ").filter(Boolean));
    caches.open(CACHE).then(function (cache) { return cache.addAll(files); }).catch(function () {});
  }

  // --- wiring -------------------------------------------------------------------------------
  $("kiosk-search").addEventListener("input", search);
  $("kiosk-confirm").addEventListener("click", confirmed);
  $("kiosk-lock").addEventListener("click", lock);
  $("kiosk-staff-open").addEventListener("click", openStaff);
  document.querySelectorAll(".kiosk-cancel").forEach(function (b) { b.addEventListener("click", reset); });
  form.addEventListener("submit", submitted);
  form.addEventListener("change", tidySections);
  form.addEventListener("input", tidySections);
  ["pointerdown", "keydown", "input", "scroll"].forEach(function (type) {
    document.addEventListener(type, function () { lastTouch = Date.now(); }, {passive: true, capture: true});
  });
  var idle = parseInt(root.dataset.idle, 10) * 1000;
  setInterval(function () {
    var busy = current() !== "start" || $("kiosk-search").value;
    if (busy && Date.now() - lastTouch > idle) reset();
  }, 1000);
  window.addEventListener("online", sync);
  window.addEventListener("offline", showCount);
  setInterval(sync, 10000);
  reset();
  loadIndex().then(search, function () {});
  cacheForOffline();
  sync();
})();
