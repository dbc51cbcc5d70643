-- The CDN finds an upload by its file name too (the original system's links are file names).
CREATE INDEX images_filename_idx ON images (filename);
