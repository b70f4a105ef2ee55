-- acme_feedback: feedback removed on request.
\set id random(1, :feedback)
DELETE FROM feedback WHERE id = :id;
