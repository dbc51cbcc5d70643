-- The furthest stage each image has passed (0 arrived, 1 exif, 2 detect, 3 colors, 4 embed,
-- 5 stored), for per-stage progress. Only ever raised, so replays cannot move it back.
ALTER TABLE images ADD COLUMN stage smallint NOT NULL DEFAULT 0;
CREATE INDEX images_stage_idx ON images (stage) WHERE status = 'arrived';
