/* The release this library and its commands are. Ownership: none (a constant). */
#ifndef AGENTGOV_VERSION_H
#define AGENTGOV_VERSION_H

#define AG_VERSION "0.1.0"

#endif
