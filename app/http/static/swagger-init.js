// Starts Swagger UI on /docs. A file rather than an inline script, so that a strict
// Content-Security-Policy (script-src 'self') allows it; settings come from data attributes.
"use strict";
(function () {
  var element = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: element.getAttribute("data-openapi-url"),
    domNode: element,
    deepLinking: true,
    layout: "BaseLayout",
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
    showExtensions: true,
    showCommonExtensions: true,
    // The default would send the whole document to a public validator: nothing leaves here.
    validatorUrl: null,
  });
})();
