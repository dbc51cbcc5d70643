-- The Unsplash Lite dataset's own metadata, loaded in bulk (COPY into a staging table,
-- then INSERT … ON CONFLICT), so a re-run changes nothing.
CREATE TABLE unsplash_photos (
    photo_id                 text PRIMARY KEY,
    photo_url                text,
    photo_image_url          text NOT NULL,
    submitted_at             timestamptz,
    featured                 boolean,
    width                    integer,
    height                   integer,
    aspect_ratio             double precision,
    description              text,
    photographer_username    text,
    photographer_first_name  text,
    photographer_last_name   text,
    camera_make              text,
    camera_model             text,
    iso                      integer,
    aperture                 double precision,
    focal_length             double precision,
    exposure_time            text,
    location_name            text,
    latitude                 double precision CHECK (latitude BETWEEN -90 AND 90),
    longitude                double precision CHECK (longitude BETWEEN -180 AND 180),
    country                  text,
    city                     text,
    views                    bigint,
    downloads                bigint,
    ai_description           text,
    ai_landmark_name         text,
    ai_landmark_latitude     double precision,
    ai_landmark_longitude    double precision,
    ai_landmark_confidence   double precision,
    blur_hash                text,
    -- download state: pending → stored | failed (a re-run retries failed ones)
    download_status          text NOT NULL DEFAULT 'pending' CHECK (download_status IN ('pending', 'stored', 'failed')),
    download_error           text,
    download_attempts        integer NOT NULL DEFAULT 0,
    image_id                 text REFERENCES images (id)
);
CREATE INDEX unsplash_photos_download_idx ON unsplash_photos (download_status);
CREATE INDEX unsplash_photos_image_idx ON unsplash_photos (image_id);

CREATE TABLE unsplash_keywords (
    photo_id                  text NOT NULL,
    keyword                   text NOT NULL,
    ai_service_1_confidence   double precision,
    ai_service_2_confidence   double precision,
    suggested_by_user         boolean,
    user_suggestion_source    text,
    suggested_by_ai_service_3 boolean,
    confirmed_by_ai_service_3 boolean,
    PRIMARY KEY (photo_id, keyword)
);
CREATE INDEX unsplash_keywords_keyword_idx ON unsplash_keywords (keyword);

CREATE TABLE unsplash_colors (
    photo_id  text NOT NULL,
    hex       text NOT NULL,
    red       smallint,
    green     smallint,
    blue      smallint,
    keyword   text,
    coverage  double precision,
    score     double precision,
    PRIMARY KEY (photo_id, hex)
);

CREATE TABLE unsplash_collections (
    photo_id           text NOT NULL,
    collection_id      text NOT NULL,
    collection_title   text,
    photo_collected_at timestamptz,
    collection_type    text,
    PRIMARY KEY (photo_id, collection_id)
);

-- Conversions have no natural key: identical rows are one row.
CREATE TABLE unsplash_conversions (
    row_hash                  text PRIMARY KEY,
    converted_at              timestamptz,
    conversion_type           text,
    keyword                   text,
    photo_id                  text,
    anonymous_user_id         text,
    conversion_country        text,
    device_type               text,
    search_orientation_filter text,
    search_ordering           text
);
CREATE INDEX unsplash_conversions_photo_idx ON unsplash_conversions (photo_id);
CREATE INDEX unsplash_conversions_keyword_idx ON unsplash_conversions (keyword);
