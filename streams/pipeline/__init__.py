"""The streaming pipeline: Faust wiring around the pure core.

    dlr.raw.<provider> --normalize--> dlr.receipts --fold--> dlr.status-changes
                  \\                          \\               dlr.charge-changes
                   +--> dlr.dead-letter <------+
"""
