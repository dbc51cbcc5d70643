-- CLIP's zero-shot labels over the open vocabulary (label → probability), beside the detector's
-- image_tags; NULL where CLIP was unavailable. Their labels join the index payload's tags.
ALTER TABLE images ADD COLUMN clip_tags jsonb;
