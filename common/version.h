/* version.h - the version every program prints for --version */
#ifndef VERSION_H
#define VERSION_H

#define SMTPD_VERSION "0.3.0"

#endif
