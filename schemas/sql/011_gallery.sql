-- The gallery: every enriched image, newest first, paged by a keyset cursor (arrived_at, id).
CREATE INDEX images_gallery_idx ON images (arrived_at DESC, id DESC) WHERE status = 'enriched';

-- The colour family of '#rrggbb', as core.colors.family computes it (a test holds them equal):
-- what the gallery's colour filter matches an image's dominant colours by.
CREATE FUNCTION colour_family(hex text) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    r double precision := ('x' || substr(hex, 2, 2))::bit(8)::int / 255.0;
    g double precision := ('x' || substr(hex, 4, 2))::bit(8)::int / 255.0;
    b double precision := ('x' || substr(hex, 6, 2))::bit(8)::int / 255.0;
    high double precision := greatest(r, g, b);
    spread double precision := greatest(r, g, b) - least(r, g, b);
    hue double precision;
    band text;
BEGIN
    IF high < 0.2 THEN RETURN 'black'; END IF;
    IF spread / high < 0.15 THEN RETURN CASE WHEN high > 0.85 THEN 'white' ELSE 'gray' END; END IF;
    IF high = r THEN
        hue := 60 * ((g - b) / spread - 6 * floor((g - b) / spread / 6));
    ELSIF high = g THEN
        hue := 60 * ((b - r) / spread + 2);
    ELSE
        hue := 60 * ((r - g) / spread + 4);
    END IF;
    band := CASE WHEN hue < 15 THEN 'red' WHEN hue < 45 THEN 'orange' WHEN hue < 70 THEN 'yellow'
                 WHEN hue < 165 THEN 'green' WHEN hue < 200 THEN 'cyan' WHEN hue < 260 THEN 'blue'
                 WHEN hue < 290 THEN 'purple' WHEN hue < 345 THEN 'pink' ELSE 'red' END;
    RETURN CASE WHEN band = 'orange' AND high < 0.6 THEN 'brown' ELSE band END;
END $$;
