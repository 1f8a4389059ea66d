"""The pilot workbench: a prospect's billing pilot run from day one to sign-off.

- :mod:`core.pilot.plan` — the pilot (prospect, start, target sign-off, owner), its objectives and success criteria
  (each with an owner and a status), and the contracts and invoices chosen as its samples. Every change is audited.
- :mod:`core.pilot.flows` — week one's data flows (customers, contracts, usage): where the data came from (upload,
  API, data source, by hand — read from the audit log, the usage events' ``source`` and the data-source syncs) and
  whether it arrived.
- :mod:`core.pilot.criteria` — the success criteria that check themselves (sample invoices match the prospect's,
  usage received for a month, journal entries balance, dunning emails previewed), each with its evidence.
- :mod:`core.pilot.progress` — the phases (day one, week one, weeks two and three, sign-off) and what is done.
- :mod:`core.pilot.signoff` — the sign-off report: one XLSX workbook and one PDF, ready to send to the prospect.
- :mod:`core.pilot.demo` — the demo's pilot plan.

The pilot reconciliation itself lives in :mod:`core.pilot_reconciliation`; a saved run is what the "sample invoices
match" criterion reads.
"""
