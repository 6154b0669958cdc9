package array

// HeaderSize is the block header's size in bytes, for tests that corrupt it.
const HeaderSize = headerSize
