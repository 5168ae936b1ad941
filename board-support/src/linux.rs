//! Linux implementations: thin newtypes over OS handles.
