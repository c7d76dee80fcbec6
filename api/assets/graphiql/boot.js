// Starts GraphiQL from the vendored bundles, with nothing fetched from any
// other host. Configuration comes from the page (#graphiql-config): the
// endpoints and, in local development, the demo admin's headers.
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("graphiql-config").textContent);
  var origin = window.location.origin;
  var wsUrl = origin.replace(/^http/, "ws") + config.subscriptionEndpoint;
  var http = GraphiQL.createFetcher({ url: origin + config.endpoint });

  // Subscriptions go over graphql-transport-ws, signed in with the headers
  // of the Headers tab (sent in connection_init), one client per operation.
  function isSubscription(params) {
    try {
      var doc = GraphiQL.GraphQL.parse(params.query);
      return doc.definitions.some(function (d) {
        return d.kind === "OperationDefinition" && d.operation === "subscription" &&
          (!params.operationName || (d.name && d.name.value === params.operationName));
      });
    } catch (e) {
      return false;
    }
  }

  function fetcher(params, opts) {
    if (!isSubscription(params)) {
      return http(params, opts);
    }
    var headers = (opts && opts.headers) || {};
    var client = graphqlWs.createClient({ url: wsUrl, connectionParams: headers, lazy: true, retryAttempts: 0 });
    return {
      subscribe: function (sink) {
        var dispose = client.subscribe(params, {
          next: function (v) { sink.next(v); },
          error: function (e) { sink.error(e); },
          complete: function () { sink.complete(); },
        });
        return { unsubscribe: function () { dispose(); client.dispose(); } };
      },
    };
  }

  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(React.createElement(GraphiQL, {
    fetcher: fetcher,
    defaultHeaders: config.headers || undefined,
    defaultQuery: config.defaultQuery || undefined,
    shouldPersistHeaders: false,
  }));
})();
