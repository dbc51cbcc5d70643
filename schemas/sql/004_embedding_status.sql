-- Whether the CLIP image embedding could be computed ('ok') or no weights were loadable ('unavailable').
ALTER TABLE images ADD COLUMN embedding_status text;
