/* A fake Stripe.js (v3) for browser tests, served by the fake Stripe server at /v3/.
 *
 * What the pages use of the real one: Stripe(publishableKey, {stripeAccount}),
 * elements().create("card").mount(selector) and confirmCardPayment(clientSecret,
 * {payment_method: {card, billing_details}}). The card "element" is a plain input where a test
 * types one of Stripe's test payment methods (pm_card_visa, pm_card_chargeDeclined,
 * pm_card_authenticationRequired...). Confirming calls the fake API as Stripe.js calls the real
 * one (the publishable key and the client secret as form fields: a simple CORS request); a card
 * that needs 3-D Secure opens a challenge in the page whose buttons pass or fail it on the
 * fake's /fake/3ds/ page, then the intent is read again. Results have Stripe.js's shape:
 * {paymentIntent} or {error: {type, code, decline_code, message, payment_intent}}.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  var base = new URL(script.src).origin;

  function form(params) {
    var body = new URLSearchParams();
    Object.keys(params).forEach(function (key) {
      if (params[key] !== undefined && params[key] !== null) body.append(key, params[key]);
    });
    return body;
  }

  function call(method, path, params) {
    var url = base + path;
    var options = { method: method };
    if (method === "GET") {
      url += "?" + form(params).toString();
    } else {
      options.body = form(params);
    }
    return fetch(url, options).then(function (response) {
      return response.json().then(function (body) {
        return { status: response.status, body: body };
      });
    });
  }

  function CardElement() {
    this.input = null;
  }
  CardElement.prototype.mount = function (target) {
    var host = typeof target === "string" ? document.querySelector(target) : target;
    var input = document.createElement("input");
    input.type = "text";
    input.id = "fake-stripe-card";
    input.name = "fake-stripe-card";
    input.autocomplete = "off";
    input.placeholder = "Card (test: pm_card_visa)";
    input.setAttribute("aria-label", "Card");
    host.appendChild(input);
    this.input = input;
  };
  CardElement.prototype.on = function () {};
  CardElement.prototype.focus = function () {
    if (this.input) this.input.focus();
  };
  CardElement.prototype.value = function () {
    return this.input ? this.input.value.trim() : "";
  };

  function errorOf(body) {
    var error = (body && body.error) || {};
    return {
      type: error.type || "api_error",
      code: error.code,
      decline_code: error.decline_code,
      message: error.message || "Something went wrong.",
      payment_intent: error.payment_intent,
    };
  }

  function challenge(url) {
    // The issuer's check, in the page as Stripe.js shows it (a modal); the test clicks a button.
    return new Promise(function (resolve) {
      var overlay = document.createElement("div");
      overlay.id = "fake-3ds";
      overlay.setAttribute("role", "dialog");
      overlay.setAttribute("aria-label", "3-D Secure");
      overlay.style.position = "fixed";
      overlay.style.inset = "0";
      overlay.style.background = "rgba(0,0,0,.5)";
      overlay.style.display = "flex";
      overlay.style.alignItems = "center";
      overlay.style.justifyContent = "center";
      var box = document.createElement("div");
      box.style.background = "#fff";
      box.style.padding = "2rem";
      box.style.borderRadius = "8px";
      var title = document.createElement("p");
      title.textContent = "Your bank asks you to confirm this payment (test 3-D Secure).";
      box.appendChild(title);
      ["complete", "fail"].forEach(function (outcome) {
        var button = document.createElement("button");
        button.type = "button";
        button.id = "fake-3ds-" + outcome;
        button.textContent = outcome === "complete" ? "Complete authentication" : "Fail authentication";
        button.addEventListener("click", function () {
          var target = url + (url.indexOf("?") < 0 ? "?" : "&") + "outcome=" + (outcome === "complete" ? "succeed" : "fail");
          fetch(target).then(function () {
            overlay.remove();
            resolve(outcome);
          });
        });
        box.appendChild(button);
      });
      overlay.appendChild(box);
      document.body.appendChild(overlay);
    });
  }

  function FakeStripe(key, options) {
    if (!(this instanceof FakeStripe)) return new FakeStripe(key, options);
    this.key = key;
    this.account = (options || {}).stripeAccount;
  }
  FakeStripe.prototype.elements = function () {
    return {
      create: function (type) {
        if (type !== "card") throw new Error("the fake Stripe.js has the card element only");
        return new CardElement();
      },
    };
  };
  FakeStripe.prototype._auth = function (clientSecret) {
    return { key: this.key, _stripe_account: this.account, client_secret: clientSecret };
  };
  FakeStripe.prototype.retrievePaymentIntent = function (clientSecret) {
    var id = clientSecret.split("_secret_")[0];
    return call("GET", "/v1/payment_intents/" + id, this._auth(clientSecret)).then(function (answer) {
      return answer.status === 200 ? { paymentIntent: answer.body } : { error: errorOf(answer.body) };
    });
  };
  FakeStripe.prototype.confirmCardPayment = function (clientSecret, data) {
    var self = this;
    var id = clientSecret.split("_secret_")[0];
    var method = data && data.payment_method;
    var params = self._auth(clientSecret);
    if (method && method.card) params.payment_method = method.card.value();
    else if (typeof method === "string") params.payment_method = method;
    return call("POST", "/v1/payment_intents/" + id + "/confirm", params).then(function (answer) {
      if (answer.status !== 200) return { error: errorOf(answer.body) };
      var intent = answer.body;
      if (intent.status !== "requires_action") return { paymentIntent: intent };
      var action = intent.next_action || {};
      var url = (action.use_stripe_sdk && action.use_stripe_sdk.stripe_js) ||
        (action.redirect_to_url && action.redirect_to_url.url);
      return challenge(url).then(function () {
        return self.retrievePaymentIntent(clientSecret);
      }).then(function (result) {
        var after = result.paymentIntent;
        if (after && after.status === "requires_payment_method" && after.last_payment_error) {
          var error = after.last_payment_error;
          return {
            error: {
              type: error.type,
              code: error.code,
              decline_code: error.decline_code,
              message: error.message,
              payment_intent: after,
            },
          };
        }
        return result;
      });
    });
  };
  window.Stripe = FakeStripe;
})();
