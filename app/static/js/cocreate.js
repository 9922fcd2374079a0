/*
 * Cocreate's small page behaviours. Loaded with `defer` after htmx and Bootstrap.
 *
 * Everything here is progressive: every form still works by a plain POST without JavaScript.
 * No eval, no inline handlers: the Content-Security-Policy allows only files from this site.
 */
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : null;
  }

  // Tell the people using a screen reader or looking elsewhere what happened.
  function announce(message) {
    var region = document.getElementById("cc-live-region");
    if (!region) {
      return;
    }
    region.replaceChildren();
    var alert = document.createElement("div");
    alert.className = "alert alert-danger alert-dismissible fade show";
    alert.setAttribute("role", "alert");
    var text = document.createElement("span");
    text.textContent = message;
    var close = document.createElement("button");
    close.type = "button";
    close.className = "btn-close";
    close.setAttribute("data-bs-dismiss", "alert");
    close.setAttribute("aria-label", region.getAttribute("data-close-label") || "Close");
    alert.append(text, close);
    region.append(alert);
  }

  // --- htmx -------------------------------------------------------------------------------

  // Every htmx request carries the CSRF token as a header, as Flask-WTF expects.
  document.addEventListener("htmx:configRequest", function (event) {
    var token = csrfToken();
    if (token) {
      event.detail.headers["X-CSRFToken"] = token;
    }
  });

  // Filter forms marked data-cc-drop-empty leave out the fields left blank, so the address that
  // htmx pushes reads /ideas?category=kitchen rather than /ideas?q=&category=kitchen&status=.
  document.addEventListener("htmx:configRequest", function (event) {
    var detail = event.detail;
    var source = detail.elt;
    if (detail.verb !== "get" || !source.closest || !source.closest("[data-cc-drop-empty]")) {
      return;
    }
    var form = detail.formData;
    if (!form) {
      return;
    }
    var blank = [];
    form.forEach(function (value, name) {
      if (value === "" && blank.indexOf(name) < 0) {
        blank.push(name);
      }
    });
    blank.forEach(function (name) {
      var filled = form.getAll(name).filter(function (value) {
        return value !== "";
      });
      form.delete(name);
      filled.forEach(function (value) {
        form.append(name, value);
      });
    });
  });

  // Remember which button started a request, so focus can return to its replacement.
  var focusAfterSwap = null;
  document.addEventListener("htmx:beforeRequest", function (event) {
    var active = document.activeElement;
    focusAfterSwap = active && active.id && event.detail.elt.contains(active) ? active.id : null;
  });

  // A fragment that answers with an error status (e.g. 409 "cannot revoke your own admin role",
  // 403 "you cannot support your own idea") still carries the updated row or button: swap it in
  // when the element asks for that and the answer is a fragment rather than a whole error page.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var detail = event.detail;
    var status = detail.xhr.status;
    if (status < 400 || status >= 500) {
      return;
    }
    var source = (detail.requestConfig && detail.requestConfig.elt) || detail.elt;
    var wants = source && source.closest && source.closest("[data-cc-swap-errors]");
    var body = (detail.serverResponse || "").trimStart();
    if (wants && body.charAt(0) === "<" && !/^<(!doctype|html)/i.test(body)) {
      detail.shouldSwap = true;
      detail.isError = false;
    }
  });

  document.addEventListener("htmx:afterSettle", function () {
    if (focusAfterSwap) {
      var target = document.getElementById(focusAfterSwap);
      if (target) {
        target.focus();
      }
      focusAfterSwap = null;
    }
  });

  function requestFailed(event) {
    var region = document.getElementById("cc-live-region");
    var message = region ? region.getAttribute("data-error-message") : null;
    var status = event.detail.xhr ? event.detail.xhr.status : 0;
    if (status === 429 && region) {
      message = region.getAttribute("data-rate-limit-message") || message;
    }
    // The server's own words, when it sent them (e.g. why a suspended account cannot vote).
    var told = event.detail.xhr ? event.detail.xhr.getResponseHeader("X-Error-Message") : null;
    if (told) {
      try {
        message = decodeURIComponent(told);
      } catch (ignored) {
        // a garbled header: keep the general message
      }
    }
    announce(message || "That did not work. Reload the page and try again.");
  }

  document.addEventListener("htmx:responseError", requestFailed);
  document.addEventListener("htmx:sendError", requestFailed);

  // --- Forms ------------------------------------------------------------------------------

  // <form data-cc-confirm="Revoke this token?"> asks before sending.
  document.addEventListener(
    "submit",
    function (event) {
      var form = event.target;
      var question = form.getAttribute && form.getAttribute("data-cc-confirm");
      if (question && !window.confirm(question)) {
        event.preventDefault();
        event.stopImmediatePropagation();
      }
    },
    true
  );

  // --- Copy buttons -----------------------------------------------------------------------

  // <button data-cc-copy="#input-id" data-cc-copied="Copied"> copies the input's value.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-cc-copy]");
    if (!button) {
      return;
    }
    var source = document.querySelector(button.getAttribute("data-cc-copy"));
    if (!source) {
      return;
    }
    var label = button.querySelector("[data-cc-copy-label]") || button;
    var original = label.textContent;
    var done = function () {
      label.textContent = button.getAttribute("data-cc-copied") || "Copied";
      button.classList.add("btn-success");
      window.setTimeout(function () {
        label.textContent = original;
        button.classList.remove("btn-success");
      }, 2000);
    };
    source.focus();
    source.select();
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(source.value).then(done, function () {
        source.select();
      });
    } else if (document.execCommand && document.execCommand("copy")) {
      done();
    }
  });

  // Select the whole secret when its field gets focus, ready for Ctrl+C.
  document.addEventListener("focusin", function (event) {
    if (event.target.matches && event.target.matches("[data-cc-select-on-focus]")) {
      event.target.select();
    }
  });
})();
