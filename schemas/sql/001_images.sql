-- Images and everything the pipeline learns about them. Typed columns for what is
-- queried (filters, graphs); JSONB for the full EXIF record and the tag details.
CREATE TABLE images (
    id            text PRIMARY KEY,              -- content hash of the original bytes
    source        text NOT NULL CHECK (source IN ('upload', 'unsplash')),
    filename      text,
    content_type  text NOT NULL,
    size_bytes    bigint NOT NULL CHECK (size_bytes >= 0),
    object_key    text NOT NULL,
    status        text NOT NULL DEFAULT 'arrived' CHECK (status IN ('arrived', 'enriched', 'failed')),
    error         text,
    arrived_at    timestamptz NOT NULL DEFAULT now(),
    enriched_at   timestamptz,
    width         integer CHECK (width > 0),
    height        integer CHECK (height > 0),
    orientation   text CHECK (orientation IN ('landscape', 'portrait', 'square')),
    make          text,
    model         text,
    taken_at      timestamp,                     -- EXIF DateTimeOriginal (camera local time, no zone)
    iso           integer,
    latitude      double precision CHECK (latitude BETWEEN -90 AND 90),
    longitude     double precision CHECK (longitude BETWEEN -180 AND 180),
    altitude      double precision,
    country       text,
    exif          jsonb NOT NULL DEFAULT '{}'::jsonb,
    tags_status   text,
    colors        jsonb NOT NULL DEFAULT '[]'::jsonb
);
CREATE INDEX images_status_idx ON images (status);
CREATE INDEX images_make_idx ON images (lower(make));
CREATE INDEX images_taken_at_idx ON images (taken_at);

CREATE TABLE image_tags (
    image_id  text NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    label     text NOT NULL,
    count     integer NOT NULL CHECK (count > 0),
    score     real NOT NULL CHECK (score BETWEEN 0 AND 1),
    boxes     jsonb NOT NULL DEFAULT '[]'::jsonb,
    PRIMARY KEY (image_id, label)
);
CREATE INDEX image_tags_label_idx ON image_tags (label);

-- One row per (image, stage): a replayed failure updates the row instead of adding one.
CREATE TABLE dead_letters (
    id         bigserial PRIMARY KEY,
    image_id   text,
    stage      text NOT NULL,
    reason     text NOT NULL,
    event      jsonb NOT NULL,
    failed_at  timestamptz NOT NULL,
    attempts   integer NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX dead_letters_image_stage_idx ON dead_letters (image_id, stage) WHERE image_id IS NOT NULL;
