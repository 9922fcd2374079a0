/*
 * Live updates: vote counts, statuses, new comments and notifications, pushed over Socket.IO.
 * Loaded with `defer` after htmx and the Socket.IO client, on every page.
 *
 * The page says what it wants to hear about:
 *   [data-live-ideas]           lists: vote counts and statuses of every idea (room "ideas")
 *   [data-live-idea="<id>"]     an idea page: its counts, status and new comments ("idea:<id>")
 *   [data-unread-count]         the signed-in person's bell: their notifications ("user:<id>",
 *                               joined by the server on connect)
 * A page with none of these opens no connection: each open socket holds a server thread.
 *
 * Plain external JavaScript: the Content-Security-Policy forbids inline scripts and eval.
 */
(function () {
  "use strict";

  if (typeof window.io !== "function") {
    return; // the Socket.IO client did not load; the page works without live updates
  }

  var TOAST_LIFETIME_MS = 10000;
  var MAX_TOASTS = 3;

  function all(selector) {
    return Array.prototype.slice.call(document.querySelectorAll(selector));
  }

  // Attribute values go into selectors; ids from the server are digits, but be strict anyway.
  function isId(value) {
    return /^[0-9]{1,10}$/.test(String(value));
  }

  function setText(selector, text) {
    all(selector).forEach(function (element) {
      element.textContent = text;
    });
  }

  function wantedRooms() {
    var rooms = [];
    if (document.querySelector("[data-live-ideas]")) {
      rooms.push("ideas");
    }
    all("[data-live-idea]").forEach(function (element) {
      var id = element.getAttribute("data-live-idea");
      if (isId(id) && rooms.indexOf("idea:" + id) === -1) {
        rooms.push("idea:" + id);
      }
    });
    return rooms;
  }

  function showsIdea(ideaId) {
    return wantedRooms().indexOf("idea:" + ideaId) !== -1;
  }

  var rooms = wantedRooms();
  var signedIn = document.querySelector("[data-unread-count]") !== null;
  if (rooms.length === 0 && !signedIn) {
    return;
  }

  var socket = window.io({ transports: ["websocket", "polling"] });

  // On every (re)connection: the server forgets rooms when a connection ends.
  socket.on("connect", function () {
    var pending = rooms.length;
    if (pending === 0) {
      document.documentElement.setAttribute("data-live-ready", "");
      return;
    }
    rooms.forEach(function (room) {
      socket.emit("join", { room: room }, function () {
        pending -= 1;
        if (pending === 0) {
          // Browser tests wait for this before they cause an event.
          document.documentElement.setAttribute("data-live-ready", "");
        }
      });
    });
  });

  socket.on("disconnect", function () {
    document.documentElement.removeAttribute("data-live-ready");
  });

  // --- ideas ------------------------------------------------------------------------------

  socket.on("vote_count", function (payload) {
    if (payload && isId(payload.idea_id)) {
      setText('[data-vote-count="' + payload.idea_id + '"]', String(payload.vote_count));
    }
  });

  socket.on("status", function (payload) {
    if (payload && isId(payload.idea_id)) {
      setText('[data-status="' + payload.idea_id + '"]', payload.label || payload.status);
    }
  });

  socket.on("comment", function (payload) {
    if (!payload || !isId(payload.comment_id) || !showsIdea(payload.idea_id)) {
      return;
    }
    if (typeof payload.count_text === "string") {
      setText(".cc-conversation-count", payload.count_text);
      var empty = document.querySelector(".cc-thread-empty");
      if (empty) {
        empty.hidden = true;
      }
    }
    if (document.getElementById("comment-" + payload.comment_id)) {
      return; // already on the page (the author's own comment, swapped in by htmx)
    }
    var parentId = payload.parent_id;
    var target = isId(parentId)
      ? document.getElementById("replies-" + parentId)
      : document.getElementById("comments");
    if (!target || typeof window.htmx === "undefined") {
      return; // the branch is not on this page; a reload shows the comment in its place
    }
    window.htmx
      .ajax("GET", "/comments/" + payload.comment_id, { target: target, swap: "beforeend" })
      .catch(function () {});
  });

  // --- the signed-in person's own events --------------------------------------------------

  function showToast(html) {
    var region = document.getElementById("cc-live-region");
    if (!region || !html) {
      return;
    }
    var template = document.createElement("template");
    template.innerHTML = html;
    var toast = template.content.firstElementChild;
    if (!toast) {
      return;
    }
    region.append(toast);
    while (region.children.length > MAX_TOASTS) {
      region.firstElementChild.remove();
    }
    window.setTimeout(function () {
      toast.remove();
    }, TOAST_LIFETIME_MS);
  }

  socket.on("notification", function (payload) {
    if (!payload) {
      return;
    }
    var unread = Number(payload.unread) || 0;
    all("[data-unread-count]").forEach(function (element) {
      element.textContent = String(unread);
      element.hidden = unread === 0;
    });
    showToast(payload.html);
  });

  // The person signed out or changed their password (here or elsewhere): the server took this
  // connection out of their private room. Reconnect, so the server decides again from this
  // browser's current session; wait first, so this tab's own sign-out cookie has landed.
  socket.on("session_changed", function () {
    window.setTimeout(
      function () {
        socket.disconnect();
        socket.connect();
      },
      1000 + Math.floor(Math.random() * 2000)
    );
  });
})();
