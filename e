reference,status,created_at,request_type,relationship,name,phone,best_time,email,treating_hospital,country,handled_at,delivery,delivered_at
