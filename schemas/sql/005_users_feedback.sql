-- Named users, their saved preferences, the feedback they give, and what it amounts to.
CREATE TABLE users (
    name         text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9_.@-]{1,64}$'),
    preferences  jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- Every feedback event once (its id makes a replay a no-op).
CREATE TABLE feedback (
    event_id   uuid PRIMARY KEY,
    user_name  text NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    image_id   text NOT NULL,
    signal     text NOT NULL CHECK (signal IN ('like', 'dislike', 'view')),
    at         timestamptz NOT NULL
);
CREATE INDEX feedback_user_idx ON feedback (user_name, at);

-- The profile: each user's latest like or dislike per image.
CREATE TABLE opinions (
    user_name  text NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    image_id   text NOT NULL,
    signal     text NOT NULL CHECK (signal IN ('like', 'dislike')),
    at         timestamptz NOT NULL,
    PRIMARY KEY (user_name, image_id)
);
