/*
 * @mention autocomplete for comment textareas.
 *
 * A textarea opts in with data-mentions="<suggest URL>" (see community/_macros.html). Typing "@"
 * and two or more letters lists up to eight people (GET <url>?q=…, JSON [{id, display_name}]);
 * choosing one writes "@Display Name " into the text, which is how the server finds mentions.
 *
 * Keyboard: Up/Down move through the list, Enter or Tab inserts, Escape closes. The list is a
 * role="listbox" tied to the textarea with aria-controls / aria-activedescendant, and a polite
 * status line says how many people were found. Events are delegated from the document, so
 * textareas that htmx or the live client add later work too. No inline handlers or styles.
 */
(function () {
  "use strict";

  var TRIGGER = /(^|[^\p{L}\p{N}_@])@([\p{L}\p{N}_][\p{L}\p{N}_.'\- ]{1,39})$/u;
  var DELAY_MS = 150;
  var serial = 0;

  var state = null; // {textarea, list, status, items, active, start, timer, request}

  function isMentionField(el) {
    return el && el.tagName === "TEXTAREA" && el.hasAttribute("data-mentions");
  }

  // The "@query" just before the caret, or null.
  function queryAt(textarea) {
    if (textarea.selectionStart !== textarea.selectionEnd) {
      return null;
    }
    var before = textarea.value.slice(0, textarea.selectionStart);
    var match = TRIGGER.exec(before);
    if (!match || /\s{2}$/.test(match[2])) {
      return null;
    }
    return { text: match[2], start: before.length - match[2].length - 1 };
  }

  function parts(textarea) {
    if (!textarea.id) {
      serial += 1;
      textarea.id = "cc-mention-field-" + serial;
    }
    var listId = textarea.id + "-mentions";
    var list = document.getElementById(listId);
    if (!list) {
      list = document.createElement("ul");
      list.id = listId;
      list.className = "cc-mentions";
      list.setAttribute("role", "listbox");
      list.setAttribute("aria-label", textarea.getAttribute("data-mentions-label") || "People");
      list.hidden = true;
      var status = document.createElement("div");
      status.className = "visually-hidden";
      status.setAttribute("role", "status");
      status.id = textarea.id + "-mentions-status";
      textarea.insertAdjacentElement("afterend", list);
      list.insertAdjacentElement("afterend", status);
      textarea.setAttribute("aria-autocomplete", "list");
      textarea.setAttribute("aria-controls", listId);
    }
    return { list: list, status: document.getElementById(textarea.id + "-mentions-status") };
  }

  function close() {
    if (!state) {
      return;
    }
    window.clearTimeout(state.timer);
    if (state.request) {
      state.request.abort();
    }
    state.list.hidden = true;
    state.list.replaceChildren();
    state.status.textContent = "";
    state.textarea.removeAttribute("aria-activedescendant");
    state = null;
  }

  function highlight(index) {
    var options = state.list.querySelectorAll("[role=option]");
    if (!options.length) {
      return;
    }
    state.active = (index + options.length) % options.length;
    options.forEach(function (option, i) {
      option.setAttribute("aria-selected", i === state.active ? "true" : "false");
    });
    var chosen = options[state.active];
    state.textarea.setAttribute("aria-activedescendant", chosen.id);
    chosen.scrollIntoView({ block: "nearest" });
  }

  function initials(name) {
    var words = name.split(/\s+/).filter(Boolean);
    var text = (words[0] || "?").charAt(0) + (words.length > 1 ? words[1].charAt(0) : "");
    return text.toUpperCase();
  }

  function render(people) {
    var list = state.list;
    list.replaceChildren();
    state.items = people;
    state.active = -1;
    people.forEach(function (person, i) {
      var option = document.createElement("li");
      option.id = list.id + "-" + i;
      option.setAttribute("role", "option");
      option.setAttribute("aria-selected", "false");
      option.setAttribute("data-index", String(i));
      var face = document.createElement("span");
      face.className = "cc-avatar cc-avatar-hue-" + (Number(person.id) % 6);
      face.setAttribute("aria-hidden", "true");
      face.textContent = initials(person.display_name);
      var name = document.createElement("span");
      name.textContent = person.display_name;
      option.append(face, name);
      list.append(option);
    });
    var textarea = state.textarea;
    if (people.length) {
      list.hidden = false;
      highlight(0);
      state.status.textContent = (textarea.getAttribute("data-mentions-found") || "{n}").replace(
        "{n}",
        String(people.length)
      );
    } else {
      list.hidden = true;
      textarea.removeAttribute("aria-activedescendant");
      state.status.textContent = textarea.getAttribute("data-mentions-none") || "";
    }
  }

  function choose(index) {
    var person = state && state.items[index];
    if (!person) {
      return;
    }
    var textarea = state.textarea;
    var start = state.start;
    var end = textarea.selectionStart;
    var insert = "@" + person.display_name + " ";
    textarea.setRangeText(insert, start, end, "end");
    close();
    textarea.focus();
    // Let other listeners (e.g. a draft saver) know the text changed.
    textarea.dispatchEvent(new Event("input", { bubbles: true }));
  }

  function lookup(textarea, query) {
    var pieces = parts(textarea);
    if (state && state.textarea !== textarea) {
      close();
    }
    if (!state) {
      state = { textarea: textarea, list: pieces.list, status: pieces.status, items: [], active: -1 };
    }
    state.start = query.start;
    window.clearTimeout(state.timer);
    var current = state;
    current.timer = window.setTimeout(function () {
      if (current.request) {
        current.request.abort();
      }
      var url = new URL(textarea.getAttribute("data-mentions"), window.location.href);
      url.searchParams.set("q", query.text);
      var request = new XMLHttpRequest();
      current.request = request;
      request.open("GET", url.toString());
      request.setRequestHeader("Accept", "application/json");
      request.responseType = "json";
      request.onload = function () {
        if (state !== current || current.request !== request) {
          return;
        }
        current.request = null;
        var people = request.status === 200 && Array.isArray(request.response) ? request.response : [];
        render(people.slice(0, 8));
      };
      request.onerror = function () {
        if (state === current) {
          close();
        }
      };
      request.send();
    }, DELAY_MS);
  }

  document.addEventListener("input", function (event) {
    var textarea = event.target;
    if (!isMentionField(textarea)) {
      return;
    }
    var query = queryAt(textarea);
    if (query) {
      lookup(textarea, query);
    } else if (state && state.textarea === textarea) {
      close();
    }
  });

  document.addEventListener("keydown", function (event) {
    if (!state || event.target !== state.textarea || state.list.hidden) {
      return;
    }
    if (event.isComposing) {
      return;
    }
    switch (event.key) {
      case "ArrowDown":
        event.preventDefault();
        highlight(state.active + 1);
        break;
      case "ArrowUp":
        event.preventDefault();
        highlight(state.active - 1);
        break;
      case "Enter":
      case "Tab":
        if (state.active >= 0) {
          event.preventDefault();
          choose(state.active);
        }
        break;
      case "Escape":
        event.preventDefault();
        event.stopPropagation();
        close();
        break;
      default:
        break;
    }
  });

  // Choosing with the pointer: mousedown keeps focus in the textarea.
  document.addEventListener("mousedown", function (event) {
    var option = event.target.closest && event.target.closest(".cc-mentions [role=option]");
    if (option && state && state.list.contains(option)) {
      event.preventDefault();
      choose(Number(option.getAttribute("data-index")));
    }
  });

  document.addEventListener("focusout", function (event) {
    if (state && event.target === state.textarea) {
      close();
    }
  });

  // Moving the caret elsewhere (click, Home/End) ends the lookup when it leaves the "@name".
  document.addEventListener("click", function (event) {
    if (state && event.target === state.textarea && !queryAt(state.textarea)) {
      close();
    }
  });

  // htmx may replace the textarea (a swapped thread): drop a list that lost its field.
  document.addEventListener("htmx:beforeSwap", close);
})();
