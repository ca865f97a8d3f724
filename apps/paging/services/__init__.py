"""Every change of paging's state, one function each, in the transaction that records its event:

- `escalation`: starting an escalation and running its steps (the engine);
- `responses`: what people and the incident's lifecycle do to it (acknowledge, escalate now,
  re-page, stop when the incident is over);
- `delivery`: sending a page through the contact's channels;
- `audit`: the auditor that catches up what a lost worker, beat or message left undone;
- `verification`: channels and their verification;
- `errors`: why a change is not possible now, in words for the user.

The conditional updates that claim a row stay (they are the concurrency control: who wins); the
models' `TRANSITIONS` tables decide which moves are legal at all.
"""
