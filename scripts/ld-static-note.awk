# Drops, from a linker's messages, glibc's note on static binaries ("Using 'dlopen' in
# statically linked applications requires at runtime the shared libraries from the
# glibc version used for linking") and the "in function" line that introduces it;
# every other message passes. See the Makefile, LEAN_STATIC_PIE.
/: in function `/ { if (held != "") print held; held = $0; next }
/in statically linked applications requires at runtime the shared libraries/ { held = ""; next }
{ if (held != "") print held; held = ""; print }
END { if (held != "") print held }
