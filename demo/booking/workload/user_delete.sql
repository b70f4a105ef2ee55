-- booking_users: a user account removed (their sessions count under '??').
\set id random(1, :users)
DELETE FROM users WHERE id = :id;
