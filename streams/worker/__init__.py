"""The worker: Faust wiring around the pure core.

    dlr.raw.<provider> --normalize--> dlr.receipts --fold--> dlr.status-changes
                  \\                          \\               dlr.charge-changes
                   +--> dlr.dead-letter <------+

`app` wires topics, the table and the agents; `commit` decides each batch's
life; `faust_compat` holds every override of Faust's and aiokafka's internals;
`webhooks` serves the HTTP receivers, /health and /metrics."""
