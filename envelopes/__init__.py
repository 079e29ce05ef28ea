"""edXML envelopes (QCVN 102:2016): typed model, XML build/parse, signing, verification."""
