-- Near-duplicates (core.perceptual): the 64-bit perceptual hash of each enriched image.
-- Compared by Hamming distance, bit_count((a # b)::bit(64)); a scan, cheap at the collection's size.
ALTER TABLE images ADD COLUMN phash BIGINT;
