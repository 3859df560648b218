// GET /docs: start Swagger UI on this service's own OpenAPI document.
// A file, not an inline script: the page's Content-Security-Policy allows scripts from 'self' only.
// The page loads it after swagger-ui-bundle.js, at the end of <body>.
"use strict";

window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  presets: [SwaggerUIBundle.presets.apis],
  deepLinking: true,
  // "Try it out" on every operation; requests go to this same origin.
  supportedSubmitMethods: ["get", "put", "post", "delete", "options", "head", "patch", "trace"],
  // The default sends the document to an online validator, on another host.
  validatorUrl: null,
});
