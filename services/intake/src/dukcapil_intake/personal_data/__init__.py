"""Personal data kept only as long as needed (UU 27/2022, Indonesia's personal-data-protection law): how long each
kind is kept, the scheduled job that purges what has expired, and the staff export of everything intake holds about
one NIK. A read of the requests' and the notices' tables in SQL, like the statistics: this feature owns no table."""
